import ArchiveFormat
import Foundation
import LibPQ
import Logging

extension PartitionArchiver {
    /// Finishes the partitions earlier runs left `copied`, each once its files verify (else it
    /// is put back into the table), then removes the archiving constraint from any partition
    /// no pending copy explains (a run killed between freezing and committing its copy).
    func recover() throws {
        let dropper = dropper
        let pending = try connection.query(
            """
            SELECT id, partition_name, bounds, row_count FROM \(dropper.partitions)
            WHERE table_name = $1 AND database_system_id = $2 AND database_name = $3 AND state = 'copied' ORDER BY id
            """, [queue.name.quoted, queue.database.systemIdentifier, queue.database.name]
        ).map {
            PartitionDropper.Pending(
                id: try $0.require(Int64.self, "id"), name: try $0.require(String.self, "partition_name"),
                bounds: try $0.require(String.self, "bounds"), rows: try $0.require(Int64.self, "row_count"))
        }
        // PostgreSQL allows one pending detach per table, so a detach left half done is
        // finished before any other partition is detached.
        let detaching = Set(try pending.filter { try dropper.place(of: $0, on: connection) == .detaching }.map(\.id))
        let ordered = pending.filter { detaching.contains($0.id) } + pending.filter { !detaching.contains($0.id) }
        let hasDefault = try PartitionSurvey.hasDefault(queue, on: connection)
        for partition in ordered {
            logger.info("finishing a partition an earlier run copied", metadata: [LogKey.partition: .string(partition.name)])
            if let problem = try filesProblem(partition) {
                try dropper.keep(partition, because: problem, on: connection)
            } else {
                _ = try dropper.finish(partition, hasDefault: hasDefault, checkRows: true, on: connection)
            }
        }
        // This run holds the archive lock shared, so no other run is copying: a freeze no
        // copied row explains was left by a run killed between freezing and committing.
        for partition in try PartitionFreezes(queue: queue, schema: job.schema).frozen(on: connection) where !partition.copied {
            logger.info(
                "removing the archiving constraint an interrupted run left", metadata: [LogKey.partition: .string(partition.name.description)])
            dropper.unfreeze(partition.name.quoted, on: connection)
        }
    }

    /// Why the partition's files cannot stand in for it (one unreadable or changed, rows
    /// missing), or nil. A store that cannot be reached throws instead: the next run tries again.
    private func filesProblem(_ partition: PartitionDropper.Pending) throws -> String? {
        var rows: Int64 = 0
        for row in try connection.query(
            "SELECT file, sha256, row_count FROM \(dropper.batches) WHERE partition_id = $1 ORDER BY id", [partition.id])
        {
            let file = try row.require(String.self, "file")
            do {
                let verified = try ArchiveFileReader.verify(store, file)
                guard verified.manifest.sha256 == (try row.require(String.self, "sha256")) else {
                    return "file \(file) does not match its ledger row"
                }
            } catch let error as ArchiveError {
                return "file \(file): \(error.reason)"
            }
            rows += try row.require(Int64.self, "row_count")
        }
        return rows == partition.rows ? nil : "its files hold \(rows) rows of its \(partition.rows)"
    }
}
