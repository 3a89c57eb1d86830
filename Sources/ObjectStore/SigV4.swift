import Crypto
import Foundation

/// AWS Signature Version 4 for one service and region: the `Authorization` header of a
/// request, from its method, path, query, headers and payload hash.
///
/// The path must be sent exactly as given (already encoded: `S3Path.encode`); query names
/// and values are given raw and sent as `canonicalQuery` encodes them, so what is signed is
/// what is sent.
public struct SigV4: Sendable {
    public var region: String
    public var service: String

    public init(region: String, service: String = "s3") {
        self.region = region
        self.service = service
    }

    /// SHA-256 of an empty payload, lower-case hex.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to add to the request: `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (temporary credentials) and `authorization`.
    ///
    /// `headers` are the request's other headers, `host` among them; all are signed.
    public func sign(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String,
        credentials: AWSCredentials, date: Date
    ) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        var added = [("x-amz-date", stamp), ("x-amz-content-sha256", payloadHash)]
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        let all = headers + added
        let (canonical, signed) = canonicalRequest(method: method, path: path, query: query, headers: all, payloadHash: payloadHash)
        let scope = "\(stamp.prefix(8))/\(region)/\(service)/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonical.utf8))))"
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: signingKey(credentials, day: String(stamp.prefix(8)))))
        added.append((
            "authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope),SignedHeaders=\(signed),Signature=\(signature)"
        ))
        return added
    }

    /// The canonical request and the signed-headers list.
    func canonicalRequest(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String
    ) -> (String, String) {
        var folded: [String: String] = [:]
        for (name, value) in headers {
            let trimmed = value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            let key = name.lowercased()
            folded[key] = folded[key].map { "\($0),\(trimmed)" } ?? trimmed
        }
        let names = folded.keys.sorted()
        let signed = names.joined(separator: ";")
        let canonicalHeaders = names.map { "\($0):\(folded[$0]!)\n" }.joined()
        let text = [method, path.isEmpty ? "/" : path, Self.canonicalQuery(query), canonicalHeaders, signed, payloadHash]
            .joined(separator: "\n")
        return (text, signed)
    }

    private func signingKey(_ credentials: AWSCredentials, day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// The query as signed and sent: names and values encoded (`encode`), sorted by name
    /// then value, a parameter without a value written `name=`.
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// RFC 3986 encoding as AWS signs it: unreserved characters (letters, digits, `-._~`)
    /// stay, every other byte becomes `%XX` (upper case); `/` stays only when `keepSlash`.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// SHA-256 of `bytes`, lower-case hex.
    public static func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String { hex(SHA256.hash(data: bytes)) }
}
