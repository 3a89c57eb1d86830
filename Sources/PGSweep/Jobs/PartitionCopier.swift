import ArchiveFormat
import Foundation
import LibPQ
import Logging

/// Steps 1 and 2 of taking a partition whole (see `PartitionArchiver`): freeze it, then copy
/// it into ledgered files, checking every row. Holds nothing but settings, so copies of
/// several partitions run at once, each on a connection and store of its own.
struct PartitionCopier: Sendable {
    let job: ArchiveJob
    let queue: QueueTable
    let lockTimeout: ConfigDuration
    let statementTimeout: ConfigDuration
    let batchSize: Int
    let startedAt: Date
    let runID: Int64
    let logger: Logger
    /// Where committed work is counted (nil for a run not recorded).
    let progress: RunProgress?

    /// An archive file being written, and the rows sent to it.
    private struct OpenFile {
        var key: String
        var number: Int
        var writer: ArchiveFileWriter
        var rows: Int64 = 0
    }

    /// `name` as a field of a CSV header line, quoted as PostgreSQL's COPY quotes it.
    private static func csvField(_ name: String) -> String {
        guard name.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return name }
        return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// What copying one partition did.
    struct Copied: Sendable {
        var pending: PartitionDropper.Pending
        var taken: PartitionArchiver.Taken
    }

    /// Freezes and copies `entry`, its files numbered from `batch()`; nil when it was busy
    /// (lock not had within `lock_timeout`) or some row is not archivable: it is unfrozen
    /// and its rows go one by one.
    func take(
        _ entry: PartitionSurvey.Entry, store: any ArchiveStore, dropper: PartitionDropper, batch: () -> Int, on connection: Connection
    ) throws -> Copied? {
        if let holder = try dropper.oldLockHolder(of: [entry.oid], on: connection) {
            logger.warning(
                "partition busy: not taken whole this run, its archivable rows go one by one",
                metadata: [LogKey.partition: .string(entry.name.description), LogKey.reason: .string(holder)])
            return nil
        }
        FaultInjection.point("partition-before-freeze")
        guard try freeze(entry, on: connection) else { return nil }
        do {
            guard let copied = try copy(entry, store: store, dropper: dropper, batch: batch, on: connection) else {
                dropper.unfreeze(entry.name.quoted, on: connection)
                return nil
            }
            return copied
        } catch {
            dropper.unfreeze(entry.name.quoted, on: connection)
            throw error
        }
    }

    /// Adds the freezing constraint; false (and a warning) when the partition's lock was not
    /// had within `lock_timeout`.
    private func freeze(_ entry: PartitionSurvey.Entry, on connection: Connection) throws -> Bool {
        do {
            try connection.transaction { connection in
                try connection.set([("lock_timeout", lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute(
                    "ALTER TABLE \(entry.name.quoted) ADD CONSTRAINT \(PartitionDropper.constraint) CHECK (false) NOT VALID")
            }
            return true
        } catch let error as PostgresError where error.sqlState == .lockNotAvailable {
            logger.warning(
                "partition busy: not taken whole this run, its archivable rows go one by one",
                metadata: [LogKey.partition: .string(entry.name.description), LogKey.error: .string(error.message)])
            return false
        }
    }

    /// Copies the frozen partition once it is checked to hold only archivable rows; nil when
    /// it is not (a row changed since the survey: it is left to go one by one).
    ///
    /// The check runs after the freeze, which every write to the partition that was under
    /// way had to wait for and every later one fails: what it finds is what the copy reads.
    private func copy(
        _ entry: PartitionSurvey.Entry, store: any ArchiveStore, dropper: PartitionDropper, batch: () -> Int, on connection: Connection
    ) throws -> Copied? {
        let part = entry.name.quoted
        return try connection.transaction { connection in
            try connection.set([("statement_timeout", statementTimeout.postgresSetting)], for: .transaction)
            if let status = try PartitionSurvey.contents(job, in: part, now: startedAt, on: connection).unfinished {
                logger.info(
                    "partition not taken whole: a row changed since it was surveyed; its rows go one by one",
                    metadata: [LogKey.partition: .string(entry.name.description), LogKey.status: .string(status)])
                return nil
            }
            // Failed rows through the partition's failed-retry or status index; the rest are completed.
            let failed = try connection.query("SELECT count(*) AS failed FROM ONLY \(part) WHERE status = 'failed'")[0]
                .require(Int64.self, "failed")
            let source = queue.archiveSource
            let columns = queue.columns.map { ArchiveManifest.Column(name: $0.name, type: $0.type) }
            let names = columns.map(\.name)
            guard let idColumn = names.firstIndex(of: "id"), let createdAtColumn = names.firstIndex(of: "created_at") else {
                throw PGSweepError.missingColumns(job: job.definition.name, table: queue.name.description, columns: ["id", "created_at"])
            }
            let header = Array((names.map(Self.csvField).joined(separator: ",") + "\n").utf8)
            var written: [(key: String, manifest: ArchiveManifest)] = []
            var taken = PartitionArchiver.Taken()
            var file: OpenFile?
            func finishFile(_ file: OpenFile) throws {
                let facts = try file.writer.finish()
                guard facts.rows == file.rows, facts.header == names else {
                    throw ArchiveError(
                        .damaged, path: file.writer.path, "wrote \(facts.rows) rows with header \(facts.header), the server sent \(file.rows)")
                }
                let manifest = ArchiveManifest(
                    pgsweepVersion: PGSweepVersion.current, source: source, key: queue.identityKey ?? ["id"],
                    file: (file.key as NSString).lastPathComponent, columns: columns, facts: facts,
                    selection: "partition \(entry.name) \(entry.bounds), every row archivable", job: job.definition.name,
                    runID: runID, batch: file.number, writtenAt: PostgresTimestamp.format(Date()),
                    partition: .init(name: entry.name.quoted, bounds: entry.bounds))
                try file.writer.publish(manifest: manifest) {}
                written.append((file.key, manifest))
                taken.completed += file.rows
                taken.bytes += facts.bytes
            }
            // One COPY of the whole partition, in the table form (the server spends less on it
            // than on a query's); its rows go into files of `batch_size` rows (the last one the
            // rest), each starting with the header line.
            let list = names.map(quoteIdentifier).joined(separator: ", ")
            let copied = try connection.copyOutChunks("COPY \(part) (\(list)) TO STDOUT (FORMAT csv)", cutEvery: batchSize) { chunk, rows in
                if file == nil {
                    let number = batch()
                    let key = ArchivePaths.dataKey(source: source, date: startedAt, runID: runID, batch: number)
                    let writer = try ArchiveFileWriter(
                        store: store, key: key, level: Int32(job.storage.compressionLevel), idColumn: idColumn,
                        createdAtColumn: createdAtColumn)
                    try writer.write(chunk: header)
                    file = OpenFile(key: key, number: number, writer: writer)
                }
                try file!.writer.write(chunk: chunk)
                file!.rows += Int64(rows)
                if file!.rows >= batchSize {
                    try finishFile(file!)
                    file = nil
                }
            }
            if let file { try finishFile(file) }
            guard taken.completed == copied else {
                throw ArchiveError(.damaged, path: entry.name.description, "its files hold \(taken.completed) rows, the server sent \(copied)")
            }
            guard taken.completed > 0 else { return nil }
            FaultInjection.point("partition-after-files")
            taken.failed = failed
            taken.completed -= taken.failed
            taken.files = written.count
            let total = taken.completed + taken.failed
            let id = try connection.query(
                """
                INSERT INTO \(dropper.partitions) (run_id, job, table_name, database_system_id, database_name, partition_name, bounds, row_count, state)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'copied') RETURNING id
                """,
                [runID, job.definition.name, queue.name.quoted, queue.database.systemIdentifier, queue.database.name,
                 entry.name.quoted, entry.bounds, total])[0].require(Int64.self, "id")
            for (key, manifest) in written {
                try ArchiveLedger(schema: job.schema).record(manifest, relativePath: key, partitionID: id, on: connection)
            }
            try progress?.record(taken.counts, on: connection)
            FaultInjection.point("partition-after-ledger")
            logger.info(
                "partition copied whole",
                metadata: [LogKey.partition: .string(entry.name.description), LogKey.rows: .stringConvertible(total),
                           LogKey.files: .stringConvertible(written.count)])
            return Copied(pending: .init(id: id, name: part, bounds: entry.bounds, rows: total), taken: taken)
        }
    }
}
