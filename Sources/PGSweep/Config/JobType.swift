/// The name of a kind of maintenance job (`type:` in a job's configuration).
///
/// Each job type's file declares its name (`extension JobType { static let archive = ... }`)
/// and `JobRegistry` lists the types; nothing else names them.
public struct JobType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// Every registered type, in registry order.
    public static var allCases: [JobType] { JobRegistry.all.map(\.type) }
}
