/// The thresholds the queue's health is judged by, per flow, from the configuration: the
/// orphan age of the `reclaim_orphans` job, and `max_retries` of the `reset_failed` job (else
/// of `reclaim_orphans`); without such jobs, the defaults (1h, `defaults.max_retries`).
struct QueueThresholds {
    private let reclaim: PerFlow<ReclaimOrphansJob.Settings>?
    private let reset: PerFlow<ResetFailedJob.Settings>?

    init(config: PGSweepConfig) {
        reclaim = config.jobs.lazy.compactMap { $0.settings(ReclaimOrphansJob.Settings.self) }.first
        reset = config.jobs.lazy.compactMap { $0.settings(ResetFailedJob.Settings.self) }.first
    }

    /// A row in processing claimed longer ago than this is an orphan.
    func orphanAge(_ flow: String) -> ConfigDuration { reclaim?.settings(for: flow).claimedBefore ?? .seconds(3600) }

    /// A failed row with `retry_count` at or above this has used its retries.
    func maxRetries(_ flow: String) -> Int {
        reset?.settings(for: flow).maxRetries ?? reclaim?.settings(for: flow).maxRetries ?? JobLimits().maxRetries
    }
}
