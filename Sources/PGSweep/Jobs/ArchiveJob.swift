import ArchiveFormat
import Foundation
import LibPQ

/// `archive`: old completed rows, and failed rows whose retries are used up, move into
/// zstd-compressed CSV files and out of the table.
///
/// Two selections, both through `idx_<table>_cleanup_timestamps`: rows `completed` before
/// now − `completed_before`, oldest `completed_at` first; and rows `failed` with
/// `retry_count >= max_retries`, no `completed_at`, created before now − `failed_before`,
/// oldest first. Each batch is one transaction: `COPY (DELETE ... RETURNING ...) TO STDOUT`
/// streams the rows into a new file; the file is fsynced, renamed into place with its
/// manifest, the folder fsynced, the ledger row inserted, and only then the transaction
/// commits. Rows a worker holds are skipped, never waited on.
///
/// Emits rows `archived_completed` and `archived_failed`, and the bytes written.
struct ArchiveJob: ExplainableJob {
    let definition: JobDefinition
    let settings: PerFlow<ArchiveSettings>
    let storage: PGSweepConfig.ArchiveStorage
    let schema: String

    /// The two kinds of row the job archives.
    enum Kind: String {
        case completed, failed
    }

    /// The table's columns, read from the catalog.
    struct Columns {
        var all: [ArchiveManifest.Column]
        var idIndex: Int
        var createdAtIndex: Int
        var returning: String { all.map { quoteIdentifier($0.name) }.joined(separator: ", ") }
    }

    func batchQueries(_ context: JobContext) -> [BatchQuery] {
        FlowPass.passes(settings, flows: definition.flows).flatMap { pass in
            [Kind.completed, .failed].map { kind in
                let statement = deleteStatement(kind, pass: pass, now: context.startedAt, limit: context.limits.batchSize, returning: "id")
                // For failed rows PostgreSQL may prefer the partial failed-retry index (its row
                // estimate for old failed rows is low); both are index scans, never a table scan.
                return BatchQuery(
                    title: "archive \(kind.rawValue) rows, \(pass.filter.description), \(selection(kind, pass: pass, now: context.startedAt))",
                    sql: statement, parameters: [], setup: flowSetup(pass.filter),
                    acceptableIndexes: (kind == .completed ? ["cleanup_timestamps"] : ["cleanup_timestamps", "failed_retry"])
                        + pass.filter.flowIndexes)
            }
        }
    }

    /// `DELETE ... RETURNING` for one batch. The batch's rows are selected and locked first
    /// and the delete then goes straight to them by physical address (`ctid = ANY(ARRAY(...))`,
    /// a TID scan): no table scan whatever the planner thinks of the table, and half the
    /// time of primary-key lookups. The addresses cannot go stale, since this transaction
    /// holds the rows' locks; the conditions are checked again on each row regardless. Values reach the SQL as literals made from typed
    /// values (timestamps, integers) only; flow names, which come from configuration, are read
    /// from a setting (`pgsweep.flows`) set with a bound parameter, since COPY takes none.
    func deleteStatement(_ kind: Kind, pass: FlowPass<ArchiveSettings>, now: Date, limit: Int, returning: String) -> String {
        let table = definition.tableName
        let (condition, order) = criteria(kind, pass: pass, now: now)
        let flows = pass.filter.condition(setting: "pgsweep.flows").map { " AND \($0)" } ?? ""
        return """
            DELETE FROM \(table) WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM \(table)
                WHERE \(condition)\(flows)
                ORDER BY \(order)
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED))
            AND \(condition)
            RETURNING \(returning)
            """
    }

    /// Which rows of `kind` are archivable in `pass`, and the order that walks the cleanup
    /// index. The cutoff is a literal made from a timestamp, never from configuration text.
    func criteria(_ kind: Kind, pass: FlowPass<ArchiveSettings>, now: Date) -> (condition: String, order: String) {
        switch kind {
        case .completed:
            let cutoff = quoteLiteral(PostgresTimestamp.format(now.addingTimeInterval(-pass.settings.completedBefore.seconds)))
            return ("completed_at < \(cutoff)::timestamptz AND status = 'completed'", "completed_at")
        case .failed:
            let cutoff = quoteLiteral(PostgresTimestamp.format(now.addingTimeInterval(-pass.settings.failedBefore.seconds)))
            return (
                "completed_at IS NULL AND created_at < \(cutoff)::timestamptz AND status = 'failed' AND retry_count >= \(pass.settings.maxRetries)",
                "completed_at, created_at"
            )
        }
    }

    func selection(_ kind: Kind, pass: FlowPass<ArchiveSettings>, now: Date) -> String {
        switch kind {
        case .completed:
            return "completed before \(PostgresTimestamp.format(now.addingTimeInterval(-pass.settings.completedBefore.seconds)))"
        case .failed:
            return "failed with retry_count >= \(pass.settings.maxRetries), created before \(PostgresTimestamp.format(now.addingTimeInterval(-pass.settings.failedBefore.seconds)))"
        }
    }

    func flowSetup(_ filter: FlowFilter) -> [(sql: String, parameters: [(any PostgresBindable)?])] {
        guard let flows = filter.flows else { return [] }
        return [("SELECT set_config('pgsweep.flows', $1, true)", [flows.postgresText])]
    }

    func run(_ context: JobContext) throws -> JobResult {
        let columns = try readColumns(context.connection)
        var result = JobResult()
        let passes = FlowPass.passes(settings, flows: definition.flows)
        if context.dryRun {
            for pass in passes {
                for kind in [Kind.completed, .failed] {
                    for (sql, parameters) in flowSetup(pass.filter) { try context.connection.execute(sql, parameters) }
                    let count = try context.connection.query(
                        "SELECT count(*) FROM (\(selectStatement(kind, pass: pass, now: context.startedAt))) s")[0]
                        .decode(Int64.self, at: 0) ?? 0
                    result.rows["archived_\(kind.rawValue)", default: 0] += count
                }
            }
            return result
        }
        let free = try DurableFiles.freeSpace(at: storage.directory)
        guard free >= storage.minFreeSpace else {
            throw PGSweepError.archiveSpace(directory: storage.directory, free: free, required: storage.minFreeSpace)
        }
        context.onEstimate?(try estimate(passes, context: context))
        var batch = 0
        let work = passes.flatMap { pass in [Kind.completed, .failed].map { (pass, $0) } }
        var bytes: Int64 = 0
        try BatchLoop.runPasses(work, describe: { "\($0.1.rawValue) rows, \($0.0.filter.description)" }, context, into: &result) {
            step, connection, size in
            batch += 1
            let written = try archiveBatch(
                step.1, pass: step.0, size: size, batch: batch, runID: context.runID, columns: columns, connection: connection,
                context: context)
            bytes += written.bytes
            return ["archived_\(step.1.rawValue)": written.rows]
        }
        result.bytesWritten = bytes
        return result
    }

    /// One batch, inside the batch's transaction: stream, fsync, publish, ledger. The caller
    /// commits afterwards.
    private func archiveBatch(
        _ kind: Kind, pass: FlowPass<ArchiveSettings>, size: Int, batch: Int, runID: Int64, columns: Columns,
        connection: Connection, context: JobContext
    ) throws -> (rows: Int64, bytes: Int64) {
        for (sql, parameters) in flowSetup(pass.filter) { try connection.execute(sql, parameters) }
        let path = ArchivePaths.dataFile(
            root: storage.directory, table: context.table.name, date: context.startedAt, runID: runID, batch: batch)
        let writer = try ArchiveFileWriter(
            path: path, level: Int32(storage.compressionLevel), idColumn: columns.idIndex, createdAtColumn: columns.createdAtIndex)
        let statement = deleteStatement(kind, pass: pass, now: context.startedAt, limit: size, returning: columns.returning)
        var chunks = 0
        context.shutdown.setActiveStatement(connection.cancelHandle())
        defer { context.shutdown.setActiveStatement(nil) }
        let copied = try connection.copyOut("COPY (\(statement)) TO STDOUT (FORMAT csv, HEADER)") { bytes in
            try writer.write(bytes)
            chunks += 1
            if chunks == 1 { FaultInjection.point("archive-mid-stream") }
        }
        guard copied > 0 else { return (0, 0) }  // nothing left: the writer removes its temporary file
        let (bytes, sha256, header) = try writer.finish()
        FaultInjection.point("archive-after-fsync")
        guard writer.rows == copied, header == columns.all.map(\.name) else {
            throw ArchiveError(.damaged, path: path, "wrote \(writer.rows) rows with header \(header), the server sent \(copied)")
        }
        let manifest = ArchiveManifest(
            pgsweepVersion: PGSweepVersion.current, table: context.table.description, file: (path as NSString).lastPathComponent,
            columns: columns.all, rows: copied, bytes: bytes, sha256: sha256, minID: writer.minID, maxID: writer.maxID,
            minCreatedAt: writer.minCreatedAt, maxCreatedAt: writer.maxCreatedAt,
            selection: selection(kind, pass: pass, now: context.startedAt), job: definition.name, runID: runID, batch: batch,
            writtenAt: PostgresTimestamp.format(Date()))
        try writer.publish(manifest: manifest) { FaultInjection.point("archive-between-files") }
        FaultInjection.point("archive-after-rename")
        try ArchiveLedger(schema: schema).record(manifest, relativePath: relativePath(path), on: connection)
        FaultInjection.point("archive-after-ledger")
        context.logger.debug("archived a batch", metadata: ["file": .string(path), "rows": .stringConvertible(copied)])
        return (copied, bytes)
    }

    func relativePath(_ path: String) -> String {
        String(path.dropFirst(storage.directory.count).drop { $0 == "/" })
    }

    private func selectStatement(_ kind: Kind, pass: FlowPass<ArchiveSettings>, now: Date) -> String {
        let flows = pass.filter.condition(setting: "pgsweep.flows").map { " AND \($0)" } ?? ""
        return "SELECT 1 FROM \(definition.tableName) WHERE \(criteria(kind, pass: pass, now: now).condition)\(flows)"
    }

    /// The planner's estimate of the rows to archive, for a progress display.
    private func estimate(_ passes: [FlowPass<ArchiveSettings>], context: JobContext) throws -> Int64 {
        var total: Int64 = 0
        for pass in passes {
            for kind in [Kind.completed, .failed] {
                let json = try context.connection.query("EXPLAIN (FORMAT JSON) \(selectStatement(kind, pass: pass, now: context.startedAt))")[0]
                    .decode(String.self, at: 0) ?? "[]"
                if let plan = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])?.first?["Plan"] as? [String: Any],
                    let rows = plan["Plan Rows"] as? NSNumber
                {
                    total += rows.int64Value
                }
            }
        }
        return total
    }

    private func readColumns(_ connection: Connection) throws -> Columns {
        let rows = try connection.query(
            """
            SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """, [definition.tableName])
        let all = try rows.map { ArchiveManifest.Column(name: try $0.decode(String.self, at: 0)!, type: try $0.decode(String.self, at: 1)!) }
        guard let id = all.firstIndex(where: { $0.name == "id" }), let created = all.firstIndex(where: { $0.name == "created_at" }) else {
            throw PGSweepError.tableMissing(definition.tableName)
        }
        return Columns(all: all, idIndex: id, createdAtIndex: created)
    }
}
