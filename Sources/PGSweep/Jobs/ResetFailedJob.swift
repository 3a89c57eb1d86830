import Foundation
import LibPQ

/// `reset_failed`: failed rows with retries left go back to `pending`.
///
/// A row in `failed` with `retry_count < max_retries`, last updated longer ago than the
/// optional `failed_before` back-off, goes to `pending` with `retry_count` + 1. Rows whose
/// retries are used up stay `failed` (the archive job takes them later). Batches select
/// through `idx_processing_queue_failed_retry` in its own order (`retry_count`,
/// `created_at`), skipping rows another session holds, and update exactly the rows they
/// locked (`BatchRows`); the `UPDATE` re-checks the state.
///
/// Emits rows `reset`.
struct ResetFailedJob: ExplainableJob, PlainRegisteredJob {
    let definition: JobDefinition
    let settings: PerFlow<Settings>

    let requiredColumns = [
        "id", "flow_name", "status", "retry_count", "flow_instance_id", "created_at", "claimed_at", "completed_at", "updated_at",
    ]

    static let type = JobType.resetFailed
    static let touchesRows = true
    static let needs: TableNeeds = [.select, .update]


    /// The job's own keys, with their defaults.
    struct Settings: JobSettingsReading, Equatable {
        /// `failed_before` (duration, default: 0s): back-off; only rows failed longer ago than
        /// this are reset.
        var failedBefore: ConfigDuration = .init(milliseconds: 0)
        /// `max_retries` (int): from the job's limits unless a flow overrides it. Defaults to 3.
        var maxRetries: Int

        static let keys = ["failed_before"]
        static let flowKeys = ["failed_before", "max_retries"]

        init(limits: JobLimits) { maxRetries = limits.maxRetries }

        mutating func read(_ key: String, _ value: ConfigValue) {
            switch key {
            case "failed_before": failedBefore = value.duration(allowZero: true) ?? failedBefore
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

    /// Rows of `pass` last updated before its back-off.
    func cutoff(_ pass: FlowPass<Settings>, _ context: JobContext) -> Date {
        context.startedAt.addingTimeInterval(-pass.settings.failedBefore.seconds)
    }

    /// The retryable rows of `pass`: `max_retries` is `$1`, the cutoff `$2`, the flow list (if
    /// any) `$flowParameter`.
    func retryable(_ pass: FlowPass<Settings>, flowParameter: Int) -> String {
        "status = 'failed' AND retry_count < $1 AND updated_at <= $2"
            + (pass.filter.condition(parameter: flowParameter).map { " AND \($0)" } ?? "")
    }

    func query(_ pass: FlowPass<Settings>, cutoff: Date, batchSize: Int) -> BatchQuery {
        let table = definition.tableName
        let selector = """
            SELECT tableoid AS relation, ctid AS address FROM \(table)
            WHERE \(retryable(pass, flowParameter: 4))
            ORDER BY retry_count, created_at
            LIMIT $3
            FOR UPDATE SKIP LOCKED
            """
        let sql = """
            WITH batch AS MATERIALIZED (
            \(selector)
            ), changed AS (
                UPDATE \(table) AS q SET
                    status = 'pending',
                    retry_count = q.retry_count + 1,
                    flow_instance_id = NULL,
                    claimed_at = NULL,
                    completed_at = NULL,
                    updated_at = now()
                WHERE \(BatchRows.lockedByBatch) AND q.status = 'failed' AND q.retry_count < $1
                RETURNING 1
            )
            SELECT count(*) FROM changed
            """
        return BatchQuery(
            title: "reset failed rows, \(pass.filter.description), retry_count < \(pass.settings.maxRetries)",
            sql: sql, parameters: pass.filter.appending(to: [pass.settings.maxRetries, cutoff, batchSize]),
            setup: [], acceptableIndexes: ["failed_retry", "status_created_at"] + pass.filter.flowIndexes,
            skipScanIndexes: ["flow_name_status", "monitoring"])
    }

    func run(_ context: JobContext) throws -> JobResult {
        var result = JobResult()
        let passes = FlowPass.passes(settings, flows: definition.flows)
        if context.dryRun {
            for pass in passes {
                let count = try context.connection.query(
                    """
                    SELECT count(*) FROM \(definition.tableName) WHERE \(retryable(pass, flowParameter: 3))
                    """, pass.filter.appending(to: [pass.settings.maxRetries, cutoff(pass, context)]))[0]
                result.rows["reset", default: 0] += try count.decode(Int64.self, at: 0) ?? 0
            }
            return result
        }
        try BatchLoop.runPasses(passes, describe: \.filter.description, context, into: &result) { pass, connection, size in
            let query = self.query(pass, cutoff: cutoff(pass, context), batchSize: size)
            return RunCounts(rows: ["reset": try connection.query(query.sql, query.parameters)[0].decode(Int64.self, at: 0) ?? 0])
        }
        return result
    }
}

extension JobType {
    /// `reset_failed`: see `ResetFailedJob`.
    public static let resetFailed = JobType(rawValue: "reset_failed")
}
