import ArchiveFormat
import Foundation
import LibPQ

extension ArchiveJob {
    /// One batch, inside the batch's transaction: stream to the store, make it durable,
    /// publish (data file, then manifest), ledger. The caller commits afterwards.
    func archiveBatch(
        _ kind: Kind, pass: FlowPass<Settings>, size: Int, batch: Int, queue: QueueTable,
        columns: [ArchiveManifest.Column], store: any ArchiveStore, connection: Connection, context: JobContext,
        skipping: [Int64] = [], keys: ReferencingKeys? = nil
    ) throws -> (rows: Int64, bytes: Int64) {
        for (sql, parameters) in flowSetup(pass.filter) { try connection.execute(sql, parameters) }
        let source = queue.archiveSource
        let key = ArchivePaths.dataKey(source: source, date: context.startedAt, runID: context.runID, batch: batch)
        let names = columns.map(\.name)
        guard let idColumn = names.firstIndex(of: "id"), let createdAtColumn = names.firstIndex(of: "created_at") else {
            throw PGSweepError.missingColumns(job: definition.name, table: queue.name.description, columns: ["id", "created_at"])
        }
        let writer = try ArchiveFileWriter(
            store: store, key: key, level: Int32(storage.compressionLevel), idColumn: idColumn, createdAtColumn: createdAtColumn)
        let returning = names.map(quoteIdentifier).joined(separator: ", ")
        var chunks = 0
        context.shutdown.setActiveStatement(connection.cancelHandle())
        defer { context.shutdown.setActiveStatement(nil) }
        func copy(_ statement: String, header: Bool) throws -> Int64 {
            try connection.copyOutChunks("COPY (\(statement)) TO STDOUT (FORMAT csv\(header ? ", HEADER" : ""))") { chunk, _ in
                try writer.write(chunk: chunk)
                chunks += 1
                if chunks == 1 { FaultInjection.point("archive-mid-stream") }
            }
        }
        var copied: Int64 = 0
        if queue.isPartitioned {
            // Lock the batch across partitions, then delete each partition's share by address:
            // one CSV stream, its header from the first statement.
            let groups = try connection.query(lockStatement(kind, pass: pass, now: context.startedAt, limit: size, skipping: skipping, keys: keys))
            for (index, group) in groups.enumerated() {
                copied += try copy(
                    partitionDeleteStatement(
                        kind, pass: pass, now: context.startedAt, partition: try group.require(String.self, "partition"),
                        addresses: try group.require(String.self, "addresses"), returning: returning),
                    header: index == 0)
            }
        } else {
            copied = try copy(
                deleteStatement(kind, pass: pass, now: context.startedAt, limit: size, returning: returning, keys: keys), header: true)
        }
        guard copied > 0 else { return (0, 0) }  // nothing left: the writer removes its temporary file
        let facts = try writer.finish()
        FaultInjection.point("archive-after-fsync")
        guard facts.rows == copied, facts.header == names else {
            throw ArchiveError(.damaged, path: writer.path, "wrote \(facts.rows) rows with header \(facts.header), the server sent \(copied)")
        }
        let manifest = ArchiveManifest(
            pgsweepVersion: PGSweepVersion.current, source: source, key: queue.identityKey ?? ["id"],
            file: (key as NSString).lastPathComponent, columns: columns, facts: facts,
            selection: selection(kind, pass: pass, now: context.startedAt), job: definition.name, runID: context.runID,
            batch: batch, writtenAt: PostgresTimestamp.format(Date()))
        try writer.publish(manifest: manifest) { FaultInjection.point("archive-between-files") }
        FaultInjection.point("archive-after-rename")
        try ArchiveLedger(schema: schema).record(
            manifest, relativePath: key, on: connection)
        FaultInjection.point("archive-after-ledger")
        context.logger.debug("archived a batch", metadata: [LogKey.file: .string(writer.path), LogKey.rows: .stringConvertible(copied)])
        return (copied, facts.bytes)
    }

    /// How many rows the run will archive, for a progress display: counted through the
    /// cleanup index when that takes under `countBudget`, else the planner's estimate
    /// (`estimated` true).
    func total(_ passes: [FlowPass<Settings>], context: JobContext) throws -> (rows: Int64, estimated: Bool) {
        var counted: Int64 = 0
        do {
            try context.connection.transaction(.readOnly) { connection in
                try connection.set([("statement_timeout", Self.countBudget.postgresSetting)], for: .transaction)
                for pass in passes {
                    for (sql, parameters) in flowSetup(pass.filter) { try connection.execute(sql, parameters) }
                    for kind in [Kind.completed, .failed] {
                        counted += try connection.query(
                            "SELECT count(*) AS rows FROM (\(selectStatement(kind, pass: pass, now: context.startedAt))) s")[0]
                            .require(Int64.self, "rows")
                    }
                }
            }
            return (counted, false)
        } catch let error as PostgresError where error.sqlState == .queryCanceled {
            return (try estimate(passes, context: context), true)
        }
    }

    /// The longest the progress display's count may take. Defaults to two seconds.
    static let countBudget = ConfigDuration.seconds(2)

    /// The planner's estimate of the rows to archive.
    private func estimate(_ passes: [FlowPass<Settings>], context: JobContext) throws -> Int64 {
        try context.connection.transaction(.readOnly) { connection in
            var total: Int64 = 0
            for pass in passes {
                for (sql, parameters) in flowSetup(pass.filter) { try connection.execute(sql, parameters) }
                for kind in [Kind.completed, .failed] {
                    total += try Plan(selectStatement(kind, pass: pass, now: context.startedAt), on: connection).rows
                }
            }
            return total
        }
    }
}
