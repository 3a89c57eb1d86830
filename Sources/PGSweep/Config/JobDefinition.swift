import Cron

/// One configured job, validated, with defaults applied.
public struct JobDefinition: Sendable {
    /// The job's name (its key under `jobs:`).
    public var name: String
    public var type: JobType
    /// `schedule` (cron expression, required): when the job fires.
    public var schedule: CronSchedule
    /// `enabled` (bool, default: true): a disabled job is never due; `run JOB` still runs it.
    public var enabled: Bool
    public var limits: JobLimits
    /// `flows` (list, optional): only rows of these flows are touched. Defaults to all flows.
    public var flows: [String]?
    /// The type's own settings, and per-flow variants from `flow_overrides`.
    public var settings: JobSettings
    /// The work-queue table, quoted for SQL.
    public var tableName: String
}

/// Type-specific settings of a job.
public enum JobSettings: Sendable {
    case reclaimOrphans(PerFlow<ReclaimOrphansSettings>)
    case resetFailed(PerFlow<ResetFailedSettings>)
    case archive(PerFlow<ArchiveSettings>)
    case analyze(AnalyzeSettings)
    case reindex(ReindexSettings)
}

/// Settings for all flows, with some flows given their own values (`flow_overrides:`).
public struct PerFlow<Settings: Sendable>: Sendable {
    /// What flows without an override use.
    public var base: Settings
    /// Flow name → that flow's settings.
    public var overrides: [String: Settings]

    /// The settings `flow` runs with.
    public func settings(for flow: String) -> Settings { overrides[flow] ?? base }
}
