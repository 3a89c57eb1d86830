/// Settings a job type reads from its configuration.
protocol JobSettingsReading: Sendable {
    /// Keys of this type beyond the common ones.
    static var keys: [String] { get }
    /// Keys a flow may override in `flow_overrides`.
    static var flowKeys: [String] { get }
    init(limits: JobLimits)
    mutating func read(_ key: String, _ value: ConfigValue)
}

/// `reclaim_orphans`: rows stuck in `processing` go back to `pending`, or to `failed` when
/// their retries are used up.
public struct ReclaimOrphansSettings: JobSettingsReading, Equatable {
    /// `claimed_before` (duration, default: 1h): a row claimed longer ago than this is orphaned.
    public var claimedBefore: ConfigDuration = .seconds(3600)
    /// `max_retries` (int): from the job's limits unless a flow overrides it. Defaults to 3.
    public var maxRetries: Int

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

/// `reset_failed`: failed rows with retries left go back to `pending`.
public struct ResetFailedSettings: JobSettingsReading, Equatable {
    /// `failed_before` (duration, default: 0s): back-off; only rows failed longer ago than
    /// this are reset.
    public var failedBefore: ConfigDuration = .init(milliseconds: 0)
    /// `max_retries` (int): from the job's limits unless a flow overrides it. Defaults to 3.
    public var maxRetries: Int

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

/// `archive`: old completed rows and failed rows with retries used up go to archive files.
public struct ArchiveSettings: JobSettingsReading, Equatable {
    /// `completed_before` (duration, default: 7d): completed rows older than this are archived.
    public var completedBefore: ConfigDuration = .seconds(7 * 86_400)
    /// `failed_before` (duration, default: 30d): failed rows (retries used up) created
    /// longer ago than this are archived.
    public var failedBefore: ConfigDuration = .seconds(30 * 86_400)
    /// `max_retries` (int): from the job's limits unless a flow overrides it. Defaults to 3.
    public var maxRetries: Int

    static let keys = ["completed_before", "failed_before"]
    static let flowKeys = ["completed_before", "failed_before", "max_retries"]

    init(limits: JobLimits) { maxRetries = limits.maxRetries }

    mutating func read(_ key: String, _ value: ConfigValue) {
        switch key {
        case "completed_before": completedBefore = value.duration() ?? completedBefore
        case "failed_before": failedBefore = value.duration() ?? failedBefore
        case "max_retries": maxRetries = value.nonNegativeInt() ?? maxRetries
        default: break
        }
    }
}

/// `analyze`: ANALYZE the table when enough of it changed since the last analyze.
public struct AnalyzeSettings: JobSettingsReading, Equatable {
    /// `min_modified_ratio` (ratio, default: 0.1): rows modified since the last analyze,
    /// as a share of the table, that trigger an ANALYZE.
    public var minModifiedRatio: Double = 0.1
    /// `force` (bool, default: false): ANALYZE on every run.
    public var force = false

    static let keys = ["min_modified_ratio", "force"]
    static let flowKeys: [String] = []

    init(limits: JobLimits) {}

    mutating func read(_ key: String, _ value: ConfigValue) {
        switch key {
        case "min_modified_ratio": minModifiedRatio = value.ratio() ?? minModifiedRatio
        case "force": force = value.bool() ?? force
        default: break
        }
    }
}

/// `reindex`: rebuild bloated indexes with REINDEX INDEX CONCURRENTLY.
public struct ReindexSettings: JobSettingsReading, Equatable {
    /// `bloat_threshold` (ratio, default: 0.3): share of an index's file holding no live entries.
    public var bloatThreshold: Double = 0.3
    /// `min_size` (size, default: 10MB): smaller indexes are never rebuilt.
    public var minSize: Int64 = 10 << 20
    /// `max_indexes` (int, optional): at most this many rebuilds per run, most wasted bytes
    /// first. Defaults to no cap: every index over the threshold, bounded by `max_runtime`.
    public var maxIndexes: Int?

    static let keys = ["bloat_threshold", "min_size", "max_indexes"]
    static let flowKeys: [String] = []

    init(limits: JobLimits) {}

    mutating func read(_ key: String, _ value: ConfigValue) {
        switch key {
        case "bloat_threshold": bloatThreshold = value.ratio() ?? bloatThreshold
        case "min_size": minSize = value.byteSize() ?? minSize
        case "max_indexes": maxIndexes = value.positiveInt() ?? maxIndexes
        default: break
        }
    }
}
