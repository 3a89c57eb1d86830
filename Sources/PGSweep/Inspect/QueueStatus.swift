import Foundation
import LibPQ
import Logging

/// The queue's health at a glance: per flow, counts by status, the oldest pending row,
/// orphans, failed rows with retries left and used up; and the last run of each job.
public struct QueueStatus: Sendable, Encodable {
    public struct Flow: Sendable, Encodable {
        public var flow: String
        public var counts: [String: Int64]
        public var oldestPendingAgeSeconds: Double?
        /// Rows in `processing` claimed longer ago than `orphanThreshold`.
        public var orphans: Int64
        public var orphanThreshold: String
        public var failedRetryable: Int64
        public var failedRetriesUsedUp: Int64
        public var maxRetries: Int
        /// The counts that are the planner's estimates (more rows than the cap, or counting
        /// took longer than its budget): statuses, and `orphans`, `retryable`, `retries_used_up`.
        public var estimated: [String]
        /// The counts that are lower bounds: counted up to the cap, with more rows than that,
        /// where the planner's estimate is no higher (the same keys as `estimated`).
        public var atLeast: [String]
        /// How long the flow's own queries (counts by status, oldest pending) took.
        public var elapsedMilliseconds: Double
    }

    /// The statuses a queue row can have.
    public static let statuses = ["pending", "processing", "completed", "failed"]

    /// Rows counted exactly per flow and count by default; above it, the planner's estimate
    /// (or the cap as a lower bound, where the estimate is lower), always marked. Generous,
    /// so that a backlog draining after a reset shows its true size: the counts read index
    /// entries (about 0.16 µs each on a vacuumed table, several times that right after
    /// maintenance has touched the rows, until VACUUM sets the visibility map again).
    public static let exactCountLimit = 1_000_000
    /// How long one flow's exact counts may take before they give way to the planner's
    /// estimates, marked as such. Defaults to five seconds.
    public static let countBudget = ConfigDuration.seconds(5)

    public struct LastRun: Sendable, Encodable {
        public var job: String
        public var status: String
        public var startedAt: Date
        public var durationSeconds: Double?
        public var rows: Int64
        public var error: String?
    }

    public var table: String
    public var at: Date
    public var flows: [Flow]
    /// Rows by status over every flow shown.
    public var totals: [String: Int64] = [:]
    /// The statuses whose total includes an estimate or a lower bound.
    public var totalsInexact: [String] = []
    public var lastRuns: [LastRun]
    /// Each index of the table, when asked for (`status --indexes`).
    public var indexes: [IndexBloat]?
    /// Each configured throttle signal now, against its limit (for the jobs that share those
    /// settings), and the signals that cannot be read.
    public var throttle: [Throttled] = []

    /// The throttle signals of some jobs.
    public struct Throttled: Sendable, Encodable {
        public var jobs: [String]
        public var readings: [ThrottleReading]
        public var unreadable: [String]
    }

    /// The table's flows: a skip scan over idx_<table>_flow_name_status, one index probe per flow.
    static func flows(of table: String, on connection: Connection) throws -> [String] {
        try connection.query(
            """
            WITH RECURSIVE f AS (
                (SELECT flow_name FROM \(table) ORDER BY flow_name LIMIT 1)
                UNION ALL
                SELECT (SELECT flow_name FROM \(table) WHERE flow_name > f.flow_name ORDER BY flow_name LIMIT 1)
                FROM f WHERE f.flow_name IS NOT NULL
            )
            SELECT flow_name FROM f WHERE flow_name IS NOT NULL
            """
        ).map { try $0.require(String.self, at: 0) }
    }

    /// Each flow's counts (all flows, or `flow`) at `now`, as `read` describes them: what the
    /// queue gauges read too, without the last runs and throttle signals.
    static func counts(
        config: PGSweepConfig, flow: String?, exactUpTo: Int? = exactCountLimit, budget: ConfigDuration = countBudget, now: Date,
        on connection: Connection
    ) throws -> [Flow] {
        let table = config.table.quoted
        let flows = try flow.map { [$0] } ?? Self.flows(of: table, on: connection)
        let thresholds = QueueThresholds(config: config)
        var result: [Flow] = []
        for name in flows {
            let started = DispatchTime.now()
            let counter = FlowCounter(
                table: table, flow: name, now: now, orphanCutoff: now.addingTimeInterval(-thresholds.orphanAge(name).seconds),
                maxRetries: thresholds.maxRetries(name), cap: exactUpTo)
            let counted = try counter.read(budget: exactUpTo == nil ? nil : budget, on: connection)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
            result.append(Flow(
                flow: name, counts: counted.statuses, oldestPendingAgeSeconds: counted.oldestPendingAge,
                orphans: counted.orphans, orphanThreshold: thresholds.orphanAge(name).description,
                failedRetryable: counted.retryable, failedRetriesUsedUp: counted.retriesUsedUp,
                maxRetries: thresholds.maxRetries(name), estimated: counted.estimated, atLeast: counted.atLeast,
                elapsedMilliseconds: elapsed))
        }
        return result
    }

    /// Reads the status. Thresholds come from the configuration: the orphan age from the
    /// `reclaim_orphans` job (per flow, when it has overrides), `max_retries` from the
    /// `reset_failed` job; without such jobs, the defaults (1h, `defaults.max_retries`).
    /// Each count of a flow is exact up to `exactUpTo` rows, else the planner's estimate or a
    /// lower bound (named in `Flow.estimated`, `Flow.atLeast`); `nil` counts every row with
    /// no time budget. A flow whose counts take longer than `budget` gets the planner's
    /// estimates.
    public static func read(
        config: PGSweepConfig, flow: String?, exactUpTo: Int? = exactCountLimit, budget: ConfigDuration = countBudget,
        on connection: Connection
    ) throws -> QueueStatus {
        let now = try connection.query("SELECT now()")[0].require(Date.self, at: 0)
        let result = try counts(config: config, flow: flow, exactUpTo: exactUpTo, budget: budget, now: now, on: connection)
        var lastRuns: [LastRun] = []
        let runsTable = QualifiedName(schema: config.schema, name: "job_runs")
        // Runs are shown once pgsweep's schema is there and current (`schema apply`).
        let hasRuns = try SchemaManager(table: config.table, schema: config.schema, logger: Logger(label: "pgsweep"))
            .ownSchemaVersion(on: connection) == OwnSchema.currentVersion
        if hasRuns {
            let queue = try QueueTable.resolve(config.table, on: connection)
            lastRuns = try connection.query(
                """
                SELECT DISTINCT ON (job) job, status, started_at,
                       extract(epoch FROM finished_at - started_at)::float8, rows_affected, error
                FROM \(runsTable.quoted) WHERE job = ANY($1) AND (table_name = $2 OR table_name IS NULL)
                ORDER BY job, started_at DESC, id DESC
                """, [config.jobs.map(\.name), queue.name.quoted]
            ).map { row in
                LastRun(
                    job: try row.require(String.self, at: 0), status: try row.require(String.self, at: 1),
                    startedAt: try row.require(Date.self, at: 2), durationSeconds: try row.decode(Double.self, at: 3),
                    rows: try row.decode(Int64.self, at: 4) ?? 0, error: try row.decode(String.self, at: 5))
            }
        }
        var status = QueueStatus(table: config.table.description, at: now, flows: result, lastRuns: lastRuns)
        for flow in result {
            for state in Self.statuses {
                status.totals[state, default: 0] += flow.counts[state] ?? 0
                if (flow.estimated + flow.atLeast).contains(state), !status.totalsInexact.contains(state) { status.totalsInexact.append(state) }
            }
        }
        for (settings, jobs) in config.throttleGroups {
            let snapshot = try ThrottleSignals(settings: settings).read(on: connection)
            status.throttle.append(Throttled(
                jobs: jobs, readings: snapshot.readings, unreadable: snapshot.unreadable.map { "\($0.signal): \($0.reason)" }))
        }
        return status
    }
}
