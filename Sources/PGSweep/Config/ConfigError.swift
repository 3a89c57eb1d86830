/// One problem found in a configuration file.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// The configuration file.
    public var file: String
    /// 1-based line and column, where YAML gives them.
    public var line: Int?
    public var column: Int?
    /// Dotted path to the offending key (`jobs.archive.completed_before`); empty for the file.
    public var keyPath: String
    /// What was wrong and what was expected.
    public var message: String

    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// A configuration that was refused, with every problem found in it.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) { self.issues = issues }

    public var description: String {
        let count = issues.count == 1 ? "1 problem" : "\(issues.count) problems"
        return "invalid configuration (\(count)):\n" + issues.map { "  \($0)" }.joined(separator: "\n")
    }
}
