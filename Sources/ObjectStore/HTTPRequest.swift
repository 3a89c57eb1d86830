/// One HTTP request to an object store: the path already encoded, the query raw (the
/// signer and the client encode it the same way).
public struct HTTPRequest: Sendable {
    public var method: String
    /// `https://host:port`, no path.
    public var origin: String
    /// Encoded path, starting with `/`.
    public var path: String
    public var query: [(String, String)]
    public var headers: [(String, String)]

    public init(method: String, origin: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = []) {
        self.method = method
        self.origin = origin
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The URL as sent.
    public var url: String {
        query.isEmpty ? origin + path : origin + path + "?" + SigV4.canonicalQuery(query)
    }
}

/// An HTTP response: status, headers (names lower-cased) and, unless streamed away, body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
}
