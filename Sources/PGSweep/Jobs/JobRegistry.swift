import LibPQ

/// A job type's file provides this: its name, its settings, what it needs, how to make it.
protocol RegisteredJob: MaintenanceJob, Sendable {
    associatedtype Settings: JobSettingsReading
    /// The `type:` name.
    static var type: JobType { get }
    /// True for jobs that change rows, which accept `flows` and `flow_overrides`.
    static var touchesRows: Bool { get }
    /// What the connected role needs on the table to run it (`doctor` checks).
    static var needs: TableNeeds { get }
    /// `batch_size` when the configuration sets none; nil for `defaults`' own (5000).
    static var defaultBatchSize: Int? { get }
    init(definition: JobDefinition, settings: PerFlow<Settings>, config: PGSweepConfig)
}

extension RegisteredJob {
    static var defaultBatchSize: Int? { nil }
}

/// A job made from its definition and settings alone: its memberwise initialiser serves.
protocol PlainRegisteredJob: RegisteredJob {
    init(definition: JobDefinition, settings: PerFlow<Settings>)
}

extension PlainRegisteredJob {
    init(definition: JobDefinition, settings: PerFlow<Settings>, config: PGSweepConfig) {
        self.init(definition: definition, settings: settings)
    }
}

/// What a job needs on the work-queue table.
struct TableNeeds: OptionSet, Sendable {
    let rawValue: Int
    static let select = TableNeeds(rawValue: 1)
    static let update = TableNeeds(rawValue: 2)
    static let delete = TableNeeds(rawValue: 4)
    /// Ownership (membership in the owning role) or, from PostgreSQL 17, MAINTAIN: for
    /// ANALYZE and REINDEX.
    static let maintain = TableNeeds(rawValue: 8)
}

/// One registered job type, its generic parts wrapped so the configuration loader, `doctor`
/// and the runner can treat every type alike.
struct JobKind: Sendable {
    let type: JobType
    let touchesRows: Bool
    let needs: TableNeeds
    let defaultBatchSize: Int?
    /// The type's own keys.
    let settingsKeys: [String]
    /// Reads the type's settings (`PerFlow<Settings>`) from a job's entries.
    let readSettings: @Sendable ([(key: String, value: ConfigValue)], JobLimits) -> any Sendable
    /// Makes the job of a definition of this type.
    let make: @Sendable (JobDefinition, PGSweepConfig) -> any MaintenanceJob

    static func of<Job: RegisteredJob>(_ job: Job.Type) -> JobKind {
        JobKind(
            type: Job.type, touchesRows: Job.touchesRows, needs: Job.needs, defaultBatchSize: Job.defaultBatchSize,
            settingsKeys: Job.Settings.keys,
            readSettings: { entries, limits in PerFlow<Job.Settings>.read(entries, limits: limits) },
            make: { definition, config in
                // The loader stored this type's settings with the definition; a definition made
                // in code without them gets the defaults.
                let settings = definition.settings as? PerFlow<Job.Settings>
                    ?? PerFlow(base: Job.Settings(limits: definition.limits), overrides: [:])
                return Job(definition: definition, settings: settings, config: config)
            })
    }
}

/// Every job type. A new type is its own file plus one line here.
enum JobRegistry {
    static let all: [JobKind] = [
        .of(ReclaimOrphansJob.self),
        .of(ResetFailedJob.self),
        .of(ArchiveJob.self),
        .of(AnalyzeJob.self),
        .of(ReindexJob.self),
    ]

    /// The registered type called `type`, if any.
    static func kind(_ type: JobType) -> JobKind? { all.first { $0.type == type } }
}

extension PerFlow where Settings: JobSettingsReading {
    /// The settings from a job's own keys, then each flow's overrides on top.
    static func read(_ entries: [(key: String, value: ConfigValue)], limits: JobLimits) -> PerFlow {
        var base = Settings(limits: limits)
        for (key, child) in entries where Settings.keys.contains(key) { base.read(key, child) }
        var overrides: [String: Settings] = [:]
        if let value = entries.first(where: { $0.key == "flow_overrides" })?.value {
            for (flow, child) in value.mapping(allowed: nil) ?? [] {
                var settings = base
                for (key, setting) in child.mapping(allowed: Settings.flowKeys) ?? [] { settings.read(key, setting) }
                overrides[flow] = settings
            }
        }
        return PerFlow(base: base, overrides: overrides)
    }
}
