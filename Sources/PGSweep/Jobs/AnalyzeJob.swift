import Foundation
import LibPQ

/// `analyze`: runs ANALYZE on the table when enough of it changed since the last analyze.
///
/// Reads `n_mod_since_analyze` from `pg_stat_user_tables` and the row estimate from
/// `pg_class` (summed over the partitions of a partitioned table, whose own entry stays
/// empty); analyzes when `n_mod_since_analyze / max(reltuples, 1)` reaches
/// `min_modified_ratio`, or on every run with `force: true`. With `vacuum: true` it runs
/// `VACUUM (ANALYZE, TRUNCATE false)` instead: after maintenance deleted or updated a large
/// share of the table, index-only scans (the dashboard's counts) stay fast only once a vacuum
/// has set the visibility map; TRUNCATE false skips the end-of-table truncation, which takes
/// an ACCESS EXCLUSIVE lock. Records what it saw.
struct AnalyzeJob: PlainRegisteredJob {
    let definition: JobDefinition
    let settings: PerFlow<Settings>

    let requiredColumns: [String] = []
    let explainNote = "reads pg_stat_user_tables and pg_class; no batch query"

    static let type = JobType.analyze
    static let touchesRows = false
    static let needs: TableNeeds = [.maintain]


    /// The job's own keys, with their defaults.
    struct Settings: JobSettingsReading, Equatable {
        /// `min_modified_ratio` (ratio, default: 0.1): rows modified since the last analyze,
        /// as a share of the table, that trigger an ANALYZE.
        var minModifiedRatio: Double = 0.1
        /// `force` (bool, default: false): ANALYZE on every run.
        var force = false
        /// `vacuum` (bool, default: false): `VACUUM (ANALYZE, TRUNCATE false)` instead of ANALYZE.
        var vacuum = false

        static let keys = ["min_modified_ratio", "force", "vacuum"]
        static let flowKeys: [String] = []

        init(limits: JobLimits) {}

        mutating func read(_ key: String, _ value: ConfigValue) {
            switch key {
            case "min_modified_ratio": minModifiedRatio = value.ratio() ?? minModifiedRatio
            case "force": force = value.bool() ?? force
            case "vacuum": vacuum = value.bool() ?? vacuum
            default: break
            }
        }
    }

    func run(_ context: JobContext) throws -> JobResult {
        let queue = try context.queue()
        let row = try context.connection.query(
            """
            SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8, coalesce(sum(s.n_mod_since_analyze), 0)::int8,
                   min(greatest(s.last_analyze, s.last_autoanalyze))
            FROM (\(QueueTable.leafRelations("$1::oid::regclass"))) t JOIN pg_class c ON c.oid = t.relid
            LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            """, [Int64(queue.oid)])[0]
        let estimate = try row.decode(Double.self, at: 0) ?? 0
        let modified = try row.decode(Int64.self, at: 1) ?? 0
        let lastAnalyze = try row.decode(Date.self, at: 2)
        let ratio = Double(modified) / max(estimate, 1)
        let due = settings.base.force || ratio >= settings.base.minModifiedRatio

        var result = JobResult()
        result.details = [
            "reltuples": String(Int64(estimate)), "n_mod_since_analyze": String(modified),
            "modified_ratio": String(format: "%.4f", ratio), "min_modified_ratio": String(settings.base.minModifiedRatio),
            "last_analyze": lastAnalyze.map(PostgresTimestamp.format) ?? "never",
            "analyzed": String(due && !context.dryRun), "would_analyze": String(due),
            "vacuum": String(settings.base.vacuum),
        ]
        guard due, !context.dryRun else { return result }
        switch try context.waitForThrottle(deadline: context.clock.now().addingTimeInterval(context.limits.maxRuntime.seconds)) {
        case .go: break
        case .shutdown:
            result.interrupted = true
            return result
        case .deadline(let signal):
            result.details["analyzed"] = "false"
            result.details["throttled_by"] = signal
            return result
        }
        // ANALYZE samples a bounded number of rows, but on a big table it can outlast a
        // batch's statement timeout; give it the job's whole runtime.
        try context.connection.withSettings([("statement_timeout", context.limits.maxRuntime.postgresSetting)]) {
            context.shutdown.setActiveStatement(context.connection.cancelHandle())
            defer { context.shutdown.setActiveStatement(nil) }
            // VACUUM cannot run in a transaction; the job's connection is in autocommit here.
            try context.connection.execute(
                settings.base.vacuum ? "VACUUM (ANALYZE, TRUNCATE false) \(queue.name.quoted)" : "ANALYZE \(queue.name.quoted)")
        }
        try context.progress?.recordCommitted(RunCounts(batches: 1), on: context.connection)
        result.batches = 1
        return result
    }
}

extension JobType {
    /// `analyze`: see `AnalyzeJob`.
    public static let analyze = JobType(rawValue: "analyze")
}
