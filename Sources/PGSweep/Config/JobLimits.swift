/// How much work one run of a job may do, and how it waits; set under `defaults:` or on a job.
public struct JobLimits: Sendable, Equatable {
    /// `batch_size` (int, default: 5000; for `archive` 50000, one file per batch): rows per
    /// batch; each batch is its own transaction.
    public var batchSize: Int = 5000
    /// True when the configuration set `batch_size` (in `defaults` or on the job).
    var batchSizeSet = false
    /// `max_runtime` (duration, default: 10m): no new batch starts after this.
    public var maxRuntime: ConfigDuration = .seconds(600)
    /// `pause` (duration, default: 0s): wait between batches (with a little jitter).
    public var pause: ConfigDuration = .init(milliseconds: 0)
    /// `max_retries` (int, default: 3): a failed row with `retry_count` at or above this has
    /// used its retries.
    public var maxRetries: Int = 3
    /// `starting_deadline` (duration, default: 1h): a fire missed by more than this is
    /// recorded as skipped instead of run late.
    public var startingDeadline: ConfigDuration = .seconds(3600)
    /// `statement_timeout` (duration, default: `database.statement_timeout`): per batch.
    public var statementTimeout: ConfigDuration?
    /// `lock_timeout` (duration, default: `database.lock_timeout`).
    public var lockTimeout: ConfigDuration?
    /// `throttle` (mapping, default: the replica and slot signals on): see `ThrottleSettings`.
    /// A job's `throttle:` keys override the defaults' one by one.
    public var throttle = ThrottleSettings()

    public init() {}

    /// The keys that may appear under `defaults:` and on a job.
    static let keys = ["batch_size", "max_runtime", "pause", "max_retries", "starting_deadline", "statement_timeout", "lock_timeout", "throttle"]

    mutating func read(_ key: String, _ value: ConfigValue) {
        switch key {
        case "batch_size":
            batchSize = value.positiveInt() ?? batchSize
            batchSizeSet = true
        case "max_runtime": maxRuntime = value.duration() ?? maxRuntime
        case "pause": pause = value.duration(allowZero: true) ?? pause
        case "max_retries": maxRetries = value.nonNegativeInt() ?? maxRetries
        case "starting_deadline": startingDeadline = value.duration() ?? startingDeadline
        case "statement_timeout": statementTimeout = value.duration() ?? statementTimeout
        case "lock_timeout": lockTimeout = value.duration() ?? lockTimeout
        case "throttle": throttle.read(value)
        default: break
        }
    }
}
