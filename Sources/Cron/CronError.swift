/// Why a schedule expression was refused.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong, naming the field (`minute field: 61 is out of range 0-59`).
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
