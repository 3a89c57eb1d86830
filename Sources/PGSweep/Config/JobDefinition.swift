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
    /// The type's own settings (`PerFlow<ArchiveJob.Settings>`...), per flow from `flow_overrides`.
    public var settings: any Sendable
    /// The work-queue table, quoted for SQL.
    public var tableName: String

    /// The type's settings, when they are of type `S`.
    func settings<S>(_ type: S.Type) -> PerFlow<S>? { settings as? PerFlow<S> }

    /// The job this definition describes.
    func job(config: PGSweepConfig) -> any MaintenanceJob {
        guard let kind = JobRegistry.kind(type) else { preconditionFailure("job type \(type) is not registered") }
        return kind.make(self, config)
    }
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
