/// Where objects go: a bucket on an endpoint, keys under a prefix.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public var bucket: String
    /// Prepended to every key; empty or ending in `/`.
    public var prefix: String
    public var region: String
    /// `https://host[:port]` (no path); nil for AWS's own endpoint of the region.
    public var endpoint: String?
    /// Bucket in the path (`https://host/bucket/key`) rather than the host name. MinIO and
    /// most S3-compatible stores need it.
    public var pathStyle: Bool

    public init(bucket: String, prefix: String = "", region: String = "us-east-1", endpoint: String? = nil, pathStyle: Bool = false) {
        self.bucket = bucket
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.region = region
        self.endpoint = endpoint.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.pathStyle = pathStyle
    }

    /// `s3://bucket/prefix`.
    public var description: String { "s3://\(bucket)/\(prefix)" }

    /// `s3://bucket/key` of a key relative to the prefix.
    public func url(of key: String) -> String { "s3://\(bucket)/\(prefix)\(key)" }

    /// The origin and encoded path of the object `fullKey` (prefix included); `nil` key: the bucket.
    func address(of fullKey: String?) -> (origin: String, path: String) {
        let base = endpoint ?? "https://s3.\(region).amazonaws.com"
        let encoded = fullKey.map { SigV4.encode($0, keepSlash: true) } ?? ""
        if pathStyle { return (base, "/\(bucket)/\(encoded)") }
        let schemeEnd = base.range(of: "://")!.upperBound
        return (base[..<schemeEnd] + bucket + "." + base[schemeEnd...], "/\(encoded)")
    }

    /// Parses `s3://bucket/prefix...`; nil when `text` is not such a URL.
    public static func parse(_ text: String) -> (bucket: String, key: String)? {
        guard text.hasPrefix("s3://") else { return nil }
        let rest = text.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { return nil }
        return (String(bucket), String(rest.dropFirst(bucket.count + 1)))
    }
}
