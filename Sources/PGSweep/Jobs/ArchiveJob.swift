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
/// streams the rows into a new file in the archive store (a folder, or an S3-compatible
/// bucket); the file is made durable and published with its manifest (fsynced and renamed
/// into place, or uploaded with `If-None-Match: *` and confirmed by HEAD), the ledger row
/// inserted, and only then the transaction commits. Rows a worker holds are skipped, never waited on. A table whose rows restore
/// could not put back (no unique key on `id`) is refused before any row moves.
///
/// On a RANGE-partitioned table (`archive.partitions: whole`), old partitions whose every row
/// is archivable are first taken whole, with no delete (`PartitionArchiver`).
///
/// Emits rows `archived_completed` and `archived_failed`, and the bytes written.
struct ArchiveJob: ExplainableJob, RegisteredJob {
    let definition: JobDefinition
    let settings: PerFlow<Settings>
    let storage: PGSweepConfig.ArchiveStorage
    let schema: String

    let requiredColumns = ["id", "flow_name", "status", "retry_count", "created_at", "completed_at"]

    static let type = JobType.archive
    static let touchesRows = true
    static let needs: TableNeeds = [.select, .delete]
    /// Archive batches are files: bigger ones mean fewer fsyncs and files.
    static let defaultBatchSize: Int? = 50_000

    init(definition: JobDefinition, settings: PerFlow<Settings>, config: PGSweepConfig) {
        self.definition = definition
        self.settings = settings
        storage = config.archive
        schema = config.schema
    }

    /// The job's own keys, with their defaults.
    struct Settings: JobSettingsReading, Equatable {
        /// `completed_before` (duration, default: 7d): completed rows older than this are archived.
        var completedBefore: ConfigDuration = .seconds(7 * 86_400)
        /// `failed_before` (duration, default: 30d): failed rows (retries used up) created
        /// longer ago than this are archived.
        var failedBefore: ConfigDuration = .seconds(30 * 86_400)
        /// `max_retries` (int): from the job's limits unless a flow overrides it. Defaults to 3.
        var maxRetries: Int

        static let keys = ["completed_before", "failed_before"]
        static let flowKeys = ["completed_before", "failed_before", "max_retries"]

        init(limits: JobLimits) { maxRetries = limits.maxRetries }

        mutating func read(_ key: String, _ value: ConfigValue) {
            switch key {
            case "completed_before": completedBefore = value.duration() ?? completedBefore
            case "failed_before": failedBefore = value.duration() ?? failedBefore
            case "max_retries": maxRetries = value.nonNegativeInt() ?? maxRetries
            default: break
            }
        }
    }

    /// The two kinds of row the job archives.
    enum Kind: String {
        case completed, failed
    }

    func batchQueries(_ context: JobContext) throws -> [BatchQuery] {
        let partitioned = try context.queue().isPartitioned
        return FlowPass.passes(settings, flows: definition.flows).flatMap { pass in
            [Kind.completed, .failed].map { kind in
                let statement = partitioned
                    ? lockStatement(kind, pass: pass, now: context.startedAt, limit: context.limits.batchSize)
                    : deleteStatement(kind, pass: pass, now: context.startedAt, limit: context.limits.batchSize, returning: "id")
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

    /// `DELETE ... RETURNING` for one batch of a plain table. The batch's rows are selected
    /// and locked first and the delete then goes straight to them by physical address
    /// (`ctid = ANY(ARRAY(...))`, a TID scan): no table scan whatever the planner thinks of
    /// the table, and half the time of primary-key lookups. The addresses cannot go stale,
    /// since this transaction holds the rows' locks; the conditions are checked again on each
    /// row regardless. Values reach the SQL as literals made from typed values (timestamps,
    /// integers) only; flow names, which come from configuration, are read from a setting
    /// (`pgsweep.flows`) set with a bound parameter, since COPY takes none.
    ///
    /// A partitioned table numbers addresses per partition, so it goes `lockStatement` then
    /// `partitionDeleteStatement` instead.
    ///
    /// `keys`, when given, hold back the rows other tables' foreign keys point at.
    func deleteStatement(
        _ kind: Kind, pass: FlowPass<Settings>, now: Date, limit: Int, returning: String, keys: ReferencingKeys? = nil
    ) -> String {
        let table = definition.tableName
        let (condition, order) = criteria(kind, pass: pass, now: now)
        let flows = pass.filter.condition(setting: "pgsweep.flows").map { " AND \($0)" } ?? ""
        let held = keys?.unreferenced(table).map { " AND \($0)" } ?? ""
        return """
            DELETE FROM \(table) WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM \(table)
                WHERE \(condition)\(flows)\(held)
                ORDER BY \(order)
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED))
            AND \(condition)
            RETURNING \(returning)
            """
    }

    /// For a partitioned table: selects and locks one batch, and returns the locked rows'
    /// addresses grouped by partition (`partition`, `addresses` as a `tid[]` literal).
    ///
    /// `skipping` names partitions (by oid) whose rows are already in ledgered files, copied
    /// whole and not yet dropped: their rows must not be archived a second time.
    func lockStatement(
        _ kind: Kind, pass: FlowPass<Settings>, now: Date, limit: Int, skipping: [Int64] = [], keys: ReferencingKeys? = nil
    ) -> String {
        let (condition, order) = criteria(kind, pass: pass, now: now)
        let flows = pass.filter.condition(setting: "pgsweep.flows").map { " AND \($0)" } ?? ""
        let skip = skipping.isEmpty ? "" : " AND tableoid <> ALL('{\(skipping.map(String.init).joined(separator: ","))}'::oid[])"
        let held = keys?.unreferenced(definition.tableName).map { " AND \($0)" } ?? ""
        return """
            SELECT relation::regclass::text AS partition, array_agg(address)::text AS addresses FROM (
                SELECT tableoid AS relation, ctid AS address FROM \(definition.tableName)
                WHERE \(condition)\(flows)\(skip)\(held)
                ORDER BY \(order)
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED) batch
            GROUP BY relation ORDER BY 1
            """
    }

    /// For a partitioned table: deletes the rows at `addresses` (a `tid[]` literal from
    /// `lockStatement`) from `partition` alone, re-checking the conditions.
    func partitionDeleteStatement(
        _ kind: Kind, pass: FlowPass<Settings>, now: Date, partition: String, addresses: String, returning: String
    ) -> String {
        let condition = criteria(kind, pass: pass, now: now).condition
        return """
            DELETE FROM ONLY \(partition) WHERE ctid = ANY(\(quoteLiteral(addresses))::tid[])
            AND \(condition)
            RETURNING \(returning)
            """
    }

    /// Which rows of `kind` are archivable in `pass`, and the order that walks the cleanup
    /// index. The cutoff is a literal made from a timestamp, never from configuration text.
    func criteria(_ kind: Kind, pass: FlowPass<Settings>, now: Date) -> (condition: String, order: String) {
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

    func selection(_ kind: Kind, pass: FlowPass<Settings>, now: Date) -> String {
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

    func selectStatement(_ kind: Kind, pass: FlowPass<Settings>, now: Date) -> String {
        let flows = pass.filter.condition(setting: "pgsweep.flows").map { " AND \($0)" } ?? ""
        return "SELECT 1 FROM \(definition.tableName) WHERE \(criteria(kind, pass: pass, now: now).condition)\(flows)"
    }

    func run(_ context: JobContext) throws -> JobResult {
        let queue = try context.queue()
        if let reason = queue.unrestorableReason {
            throw PGSweepError.checkFailed("refusing to archive: \(reason); no row was moved")
        }
        var result = JobResult()
        let passes = FlowPass.passes(settings, flows: definition.flows)
        let wholePartitions = queue.isPartitioned && storage.partitions == .whole
        if context.dryRun {
            if wholePartitions {
                let survey = try PartitionSurvey.read(self, queue: queue, now: context.startedAt, on: context.connection)
                result.details["partitions"] = survey.lines.joined(separator: "; ")
                for line in survey.lines { context.logger.info("would archive partition \(line)") }
            }
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
        // No repair may remove a file this run has published but not yet ledgered.
        let lock = ArchiveLock(schema: schema, table: queue.name)
        guard try lock.shared(within: context.lockTimeout, shutdown: context.shutdown, on: context.connection) else {
            throw PGSweepError.checkFailed(
                "`archive verify --repair` is running for \(queue.name); nothing was archived, the next run goes on")
        }
        defer { lock.releaseShared(on: context.connection) }
        if storage.s3 == nil {
            let free = try DurableFiles.freeSpace(at: storage.directory)
            guard free >= storage.minFreeSpace else {
                throw PGSweepError.archiveSpace(directory: storage.directory, free: free, required: storage.minFreeSpace)
            }
        }
        let store = try storage.makeStore(logger: context.logger)
        if let onEstimate = context.onEstimate {
            let (rows, estimated) = try total(passes, context: context)
            onEstimate(rows, estimated)
        }
        var batch = 0
        var copiedPartitions: [Int64] = []
        if wholePartitions {
            // Old partitions whose every row is archivable go whole, before any row by row.
            let archiver = PartitionArchiver(job: self, queue: queue, store: store, context: context)
            try archiver.recover()
            let taken = try archiver.run(batch: &batch) { onWhole in
                try PartitionSurvey.read(self, queue: queue, now: context.startedAt, on: context.connection, onWhole: onWhole)
            }
            result.rows["archived_completed", default: 0] += taken.completed
            result.rows["archived_failed", default: 0] += taken.failed
            result.bytesWritten += taken.bytes
            result.batches += taken.files
        }
        if queue.isPartitioned {
            // A partition copied whole whose detach or drop was put off (a lock not had, a long
            // transaction) keeps its rows until the next run drops it: they are archived already.
            copiedPartitions = try PartitionFreezes(queue: queue, schema: schema).copied(on: context.connection)
        }
        let keys = try ReferencingKeys.read(queue, on: context.connection)
        if let described = keys.description {
            context.logger.info("rows a foreign key points at stay in the table", metadata: [LogKey.reason: .string(described)])
        }
        let work = passes.flatMap { pass in [Kind.completed, .failed].map { (pass, $0) } }
        let columns = queue.columns.map { ArchiveManifest.Column(name: $0.name, type: $0.type) }
        try BatchLoop.runPasses(work, describe: { "\($0.1.rawValue) rows, \($0.0.filter.description)" }, context, into: &result) {
            step, connection, size in
            batch += 1
            let written = try archiveBatch(
                step.1, pass: step.0, size: size, batch: batch, queue: queue, columns: columns, store: store, connection: connection,
                context: context, skipping: copiedPartitions, keys: keys.keys.isEmpty ? nil : keys)
            return RunCounts(rows: ["archived_\(step.1.rawValue)": written.rows], bytes: written.bytes)
        }
        return result
    }
}

extension JobType {
    /// `archive`: see `ArchiveJob`.
    public static let archive = JobType(rawValue: "archive")
}
