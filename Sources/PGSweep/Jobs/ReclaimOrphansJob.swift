import Foundation
import LibPQ

/// `reclaim_orphans`: rows left in `processing` by crashed workers go back to work.
///
/// A row in `processing` whose `claimed_at` is older than `claimed_before` is orphaned. It
/// goes back to `pending` with `flow_instance_id` and `claimed_at` cleared and `retry_count`
/// + 1 (a crash counts as an attempt, so a row that kills its workers cannot loop forever);
/// a row that has already used `max_retries` goes to `failed` with an `error_message` saying
/// why. Batches select through `idx_processing_queue_processing_claimed_at`, oldest claim
/// first, skipping rows a live worker holds, and update exactly the rows they locked (by
/// partition and address, `BatchRows`); the `UPDATE` re-checks status and claim time so a
/// worker's change in between is never overwritten.
///
/// Emits rows `reclaimed` (back to pending) and `failed` (retries used up).
struct ReclaimOrphansJob: ExplainableJob, PlainRegisteredJob {
    let definition: JobDefinition
    let settings: PerFlow<Settings>

    let requiredColumns = [
        "id", "flow_name", "status", "retry_count", "error_message", "flow_instance_id", "claimed_at", "updated_at",
    ]

    static let type = JobType.reclaimOrphans
    static let touchesRows = true
    static let needs: TableNeeds = [.select, .update]


    /// The job's own keys, with their defaults.
    struct Settings: JobSettingsReading, Equatable {
        /// `claimed_before` (duration, default: 1h): a row claimed longer ago than this is orphaned.
        var claimedBefore: ConfigDuration = .seconds(3600)
        /// `max_retries` (int): from the job's limits unless a flow overrides it. Defaults to 3.
        var maxRetries: Int

        static let keys = ["claimed_before"]
        static let flowKeys = ["claimed_before", "max_retries"]

        init(limits: JobLimits) { maxRetries = limits.maxRetries }

        mutating func read(_ key: String, _ value: ConfigValue) {
            switch key {
            case "claimed_before": claimedBefore = value.duration() ?? claimedBefore
            case "max_retries": maxRetries = value.nonNegativeInt() ?? maxRetries
            default: break
            }
        }
    }

    func batchQueries(_ context: JobContext) -> [BatchQuery] {
        FlowPass.passes(settings, flows: definition.flows).map { pass in
            query(pass, cutoff: cutoff(pass, context), batchSize: context.limits.batchSize)
        }
    }

    /// Rows of `pass` claimed before the pass's threshold.
    func cutoff(_ pass: FlowPass<Settings>, _ context: JobContext) -> Date {
        context.startedAt.addingTimeInterval(-pass.settings.claimedBefore.seconds)
    }

    /// The orphans of `pass`: the cutoff is `$1`, the flow list (if any) `$flowParameter`.
    func orphans(_ pass: FlowPass<Settings>, flowParameter: Int) -> String {
        "status = 'processing' AND claimed_at < $1" + (pass.filter.condition(parameter: flowParameter).map { " AND \($0)" } ?? "")
    }

    func query(_ pass: FlowPass<Settings>, cutoff: Date, batchSize: Int) -> BatchQuery {
        let table = definition.tableName
        let selector = """
            SELECT tableoid AS relation, ctid AS address FROM \(table)
            WHERE \(orphans(pass, flowParameter: 5))
            ORDER BY claimed_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
            """
        let sql = """
            WITH batch AS MATERIALIZED (
            \(selector)
            ), changed AS (
                UPDATE \(table) AS q SET
                    status = CASE WHEN q.retry_count >= $3 THEN 'failed' ELSE 'pending' END,
                    retry_count = CASE WHEN q.retry_count >= $3 THEN q.retry_count ELSE q.retry_count + 1 END,
                    error_message = CASE WHEN q.retry_count >= $3
                        THEN 'pgsweep reclaim_orphans: claimed at ' || q.claimed_at || ' by '
                             || coalesce(q.flow_instance_id, 'an unknown worker')
                             || ' and not finished within ' || $4 || '; retries used up ('
                             || q.retry_count || ' of ' || $3 || ')'
                        ELSE q.error_message END,
                    flow_instance_id = NULL,
                    claimed_at = NULL,
                    updated_at = now()
                WHERE \(BatchRows.lockedByBatch) AND q.status = 'processing' AND q.claimed_at < $1
                RETURNING q.status
            )
            SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed') FROM changed
            """
        return BatchQuery(
            title: "reclaim orphans, \(pass.filter.description), claimed before \(pass.settings.claimedBefore) ago",
            sql: sql,
            parameters: pass.filter.appending(to: [cutoff, batchSize, pass.settings.maxRetries, pass.settings.claimedBefore.description]),
            setup: [], acceptableIndexes: ["processing_claimed_at"] + pass.filter.flowIndexes)
    }

    func run(_ context: JobContext) throws -> JobResult {
        var result = JobResult()
        let passes = FlowPass.passes(settings, flows: definition.flows)
        if context.dryRun {
            for pass in passes {
                let counts = try context.connection.query(
                    """
                    SELECT count(*) FILTER (WHERE retry_count < $2), count(*) FILTER (WHERE retry_count >= $2)
                    FROM \(definition.tableName) WHERE \(orphans(pass, flowParameter: 3))
                    """, pass.filter.appending(to: [cutoff(pass, context), pass.settings.maxRetries]))[0]
                result.rows["reclaimed", default: 0] += try counts.decode(Int64.self, at: 0) ?? 0
                result.rows["failed", default: 0] += try counts.decode(Int64.self, at: 1) ?? 0
            }
            return result
        }
        try BatchLoop.runPasses(passes, describe: \.filter.description, context, into: &result) { pass, connection, size in
            let query = self.query(pass, cutoff: cutoff(pass, context), batchSize: size)
            let row = try connection.query(query.sql, query.parameters)[0]
            return RunCounts(rows: ["reclaimed": try row.decode(Int64.self, at: 0) ?? 0, "failed": try row.decode(Int64.self, at: 1) ?? 0])
        }
        return result
    }
}

extension JobType {
    /// `reclaim_orphans`: see `ReclaimOrphansJob`.
    public static let reclaimOrphans = JobType(rawValue: "reclaim_orphans")
}
