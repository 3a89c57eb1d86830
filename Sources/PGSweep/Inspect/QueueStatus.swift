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
        /// The statuses whose counts are the planner's estimates (more rows than were counted).
        public var estimated: [String]
        /// How long the flow's own queries (counts by status, oldest pending) took.
        public var elapsedMilliseconds: Double
    }

    /// The statuses a queue row can have.
    public static let statuses = ["pending", "processing", "completed", "failed"]

    /// Rows counted exactly per flow and status by default; above it, the planner's estimate.
    /// Measured here, counting index entries costs about 0.16 µs each: four statuses of 5,000
    /// rows count in about 3.5 ms, inside the seed's 10 ms per flow with room for the
    /// estimates, where a 200,000-row flow took 20 to 35 ms to count whole.
    public static let exactCountLimit = 5_000

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

    /// Reads the status. Thresholds come from the configuration: the orphan age from the
    /// `reclaim_orphans` job (per flow, when it has overrides), `max_retries` from the
    /// `reset_failed` job; without such jobs, the defaults (1h, `defaults.max_retries`).
    /// Each flow's count of a status is exact up to `exactUpTo` rows, else the planner's
    /// estimate (named in `Flow.estimated`); `nil` counts every row.
    public static func read(
        config: PGSweepConfig, flow: String?, exactUpTo: Int? = exactCountLimit, on connection: Connection
    ) throws -> QueueStatus {
        let table = config.table.quoted
        let now = try connection.query("SELECT now()")[0].require(Date.self, at: 0)
        let flows = try flow.map { [$0] } ?? Self.flows(of: table, on: connection)
        let thresholds = QueueThresholds(config: config)
        let orphanAge = thresholds.orphanAge
        let maxRetries = thresholds.maxRetries
        let cutoffs = flows.map { now.addingTimeInterval(-orphanAge($0).seconds) }

        // Orphans of every flow in one pass over idx_<table>_processing_claimed_at (rows in
        // processing are few in a healthy queue), each flow with its own threshold.
        var orphans: [String: Int64] = [:]
        if let latestCutoff = cutoffs.max() {
            for row in try connection.query(
                """
                SELECT q.flow_name, count(*) FROM \(table) q
                JOIN unnest($1::text[], $2::timestamptz[]) AS t(flow, cutoff) ON t.flow = q.flow_name
                WHERE q.status = 'processing' AND q.claimed_at < $3 AND q.claimed_at < t.cutoff
                GROUP BY q.flow_name
                """, [flows, cutoffs, latestCutoff])
            {
                orphans[try row.require(String.self, at: 0)] = try row.decode(Int64.self, at: 1) ?? 0
            }
        }
        // Failed rows by flow and retry count in one pass over idx_<table>_failed_retry; each
        // flow's max_retries splits them into retryable and used up.
        var failed: [String: [(retries: Int, count: Int64)]] = [:]
        for row in try connection.query(
            "SELECT flow_name, retry_count, count(*) FROM \(table) WHERE status = 'failed' AND flow_name = ANY($1) GROUP BY 1, 2",
            [flows])
        {
            failed[try row.require(String.self, at: 0), default: []].append(
                (try row.decode(Int.self, at: 1) ?? 0, try row.decode(Int64.self, at: 2) ?? 0))
        }

        var result: [Flow] = []
        for name in flows {
            // The seed's per-flow queries: counts through idx_<table>_flow_name_status (each
            // status's index entries, up to the limit), the oldest pending row through
            // idx_<table>_monitoring. LIMIT NULL counts every row.
            let started = DispatchTime.now()
            let limit = exactUpTo.map { Int64($0) + 1 }
            let counted = Self.statuses.indices.map { index in
                "(SELECT count(*) FROM (SELECT FROM \(table) WHERE flow_name = $1 AND status = $\(index + 3) LIMIT $2::bigint) s)"
            }
            let row = try connection.query(
                """
                SELECT \(counted.joined(separator: ", ")),
                    (SELECT extract(epoch FROM $\(Self.statuses.count + 3)::timestamptz - min(created_at))::float8 FROM \(table)
                        WHERE flow_name = $1 AND status = 'pending')
                """, [name, limit] + Self.statuses + [now])[0]
            var counts: [String: Int64] = [:]
            var estimated: [String] = []
            for (index, state) in Self.statuses.enumerated() {
                let count = try row.decode(Int64.self, at: index) ?? 0
                if let limit, count >= limit {
                    let planned = try Plan("SELECT 1 FROM \(table) WHERE flow_name = $1 AND status = $2", [name, state], on: connection).rows
                    counts[state] = max(planned, limit)
                    estimated.append(state)
                } else if count > 0 {
                    counts[state] = count
                }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
            let retries = maxRetries(name)
            let failures = failed[name] ?? []
            result.append(Flow(
                flow: name, counts: counts, oldestPendingAgeSeconds: try row.decode(Double.self, at: Self.statuses.count),
                orphans: orphans[name] ?? 0, orphanThreshold: orphanAge(name).description,
                failedRetryable: failures.filter { $0.retries < retries }.reduce(0) { $0 + $1.count },
                failedRetriesUsedUp: failures.filter { $0.retries >= retries }.reduce(0) { $0 + $1.count },
                maxRetries: retries, estimated: estimated, elapsedMilliseconds: elapsed))
        }
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
        for (settings, jobs) in config.throttleGroups {
            let snapshot = try ThrottleSignals(settings: settings).read(on: connection)
            status.throttle.append(Throttled(
                jobs: jobs, readings: snapshot.readings, unreadable: snapshot.unreadable.map { "\($0.signal): \($0.reason)" }))
        }
        return status
    }
}
