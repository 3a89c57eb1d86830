/// A request that got no HTTP answer: the connection failed, reset or stalled.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// libcurl's code.
    public var code: Int
    public var message: String
    /// Worth another attempt: a refused, reset or stalled connection, an unresolved name.
    public var retryable: Bool

    public var description: String { message }
}
