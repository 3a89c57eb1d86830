import Foundation
import LibPQ

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
    }

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

    /// Reads the status. Thresholds come from the configuration: the orphan age from the
    /// `reclaim_orphans` job (per flow, when it has overrides), `max_retries` from the
    /// `reset_failed` job; without such jobs, the defaults (1h, `defaults.max_retries`).
    public static func read(config: PGSweepConfig, flow: String?, on connection: Connection) throws -> QueueStatus {
        let table = config.table.quoted
        let now = try connection.query("SELECT now()")[0].decode(Date.self, at: 0)!
        let flows: [String]
        if let flow {
            flows = [flow]
        } else {
            // A skip scan over idx_<table>_flow_name_status: one index probe per flow.
            flows = try connection.query(
                """
                WITH RECURSIVE f AS (
                    (SELECT flow_name FROM \(table) ORDER BY flow_name LIMIT 1)
                    UNION ALL
                    SELECT (SELECT flow_name FROM \(table) WHERE flow_name > f.flow_name ORDER BY flow_name LIMIT 1)
                    FROM f WHERE f.flow_name IS NOT NULL
                )
                SELECT flow_name FROM f WHERE flow_name IS NOT NULL
                """
            ).map { try $0.decode(String.self, at: 0)! }
        }
        var reclaim: PerFlow<ReclaimOrphansSettings>?
        var reset: PerFlow<ResetFailedSettings>?
        for job in config.jobs {
            switch job.settings {
            case .reclaimOrphans(let settings) where reclaim == nil: reclaim = settings
            case .resetFailed(let settings) where reset == nil: reset = settings
            default: break
            }
        }
        let defaultRetries = JobLimits().maxRetries
        var result: [Flow] = []
        for name in flows {
            let orphanAge = reclaim?.settings(for: name).claimedBefore ?? .seconds(3600)
            let maxRetries = reset?.settings(for: name).maxRetries ?? reclaim?.settings(for: name).maxRetries ?? defaultRetries
            let row = try connection.query(
                """
                SELECT
                    (SELECT coalesce(json_object_agg(status, n), '{}')::text FROM (
                        SELECT status, count(*) AS n FROM \(table) WHERE flow_name = $1 GROUP BY status) s),
                    (SELECT extract(epoch FROM $2 - min(created_at))::float8 FROM \(table)
                        WHERE flow_name = $1 AND status = 'pending'),
                    (SELECT count(*) FROM \(table) WHERE flow_name = $1 AND status = 'processing' AND claimed_at < $3),
                    (SELECT count(*) FROM \(table) WHERE flow_name = $1 AND status = 'failed' AND retry_count < $4),
                    (SELECT count(*) FROM \(table) WHERE flow_name = $1 AND status = 'failed' AND retry_count >= $4)
                """, [name, now, now.addingTimeInterval(-orphanAge.seconds), maxRetries])[0]
            let countsJSON = try row.decode(String.self, at: 0) ?? "{}"
            let counts = (try JSONSerialization.jsonObject(with: Data(countsJSON.utf8)) as? [String: NSNumber] ?? [:])
                .mapValues { $0.int64Value }
            result.append(Flow(
                flow: name, counts: counts, oldestPendingAgeSeconds: try row.decode(Double.self, at: 1),
                orphans: try row.decode(Int64.self, at: 2) ?? 0, orphanThreshold: orphanAge.description,
                failedRetryable: try row.decode(Int64.self, at: 3) ?? 0,
                failedRetriesUsedUp: try row.decode(Int64.self, at: 4) ?? 0, maxRetries: maxRetries))
        }
        var lastRuns: [LastRun] = []
        let runsTable = QualifiedName(schema: config.schema, name: "job_runs")
        let hasRuns = try connection.query("SELECT to_regclass($1) IS NOT NULL", [runsTable.quoted])[0].decode(Bool.self, at: 0) ?? false
        if hasRuns {
            lastRuns = try connection.query(
                """
                SELECT DISTINCT ON (job) job, status, started_at,
                       extract(epoch FROM finished_at - started_at)::float8, rows_affected, error
                FROM \(runsTable.quoted) WHERE job = ANY($1) ORDER BY job, started_at DESC, id DESC
                """, [config.jobs.map(\.name)]
            ).map { row in
                LastRun(
                    job: try row.decode(String.self, at: 0)!, status: try row.decode(String.self, at: 1)!,
                    startedAt: try row.decode(Date.self, at: 2)!, durationSeconds: try row.decode(Double.self, at: 3),
                    rows: try row.decode(Int64.self, at: 4) ?? 0, error: try row.decode(String.self, at: 5))
            }
        }
        return QueueStatus(table: config.table.description, at: now, flows: result, lastRuns: lastRuns)
    }
}
