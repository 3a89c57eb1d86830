/// Settings a job type reads from its configuration: its own keys, their defaults and doc
/// comments live with the job (`ArchiveJob.Settings`...).
protocol JobSettingsReading: Sendable {
    /// Keys of this type beyond the common ones.
    static var keys: [String] { get }
    /// Keys a flow may override in `flow_overrides`.
    static var flowKeys: [String] { get }
    init(limits: JobLimits)
    mutating func read(_ key: String, _ value: ConfigValue)
}
