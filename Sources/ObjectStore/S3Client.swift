import Crypto
import Foundation

/// The S3 API calls pgsweep makes, signed (SigV4), checked and retried. Keys are relative to
/// the location's prefix.
///
/// Every request carries its payload's real SHA-256; bodies stay in memory, so a retry
/// re-sends the same bytes. Not thread-safe: one client per thread.
public final class S3Client {
    public let location: S3Location
    public let credentials: CredentialProvider
    public let retry: RetryPolicy
    /// `x-amz-storage-class` of new objects; nil: the bucket's default.
    public let storageClass: String?
    let http: HTTPClient
    let signer: SigV4
    /// Attempts the last request took.
    public private(set) var lastAttempts = 0
    /// Told of each failed attempt that will be tried again: the error, the attempt that
    /// failed (from 1), and the wait before the next.
    public var onRetry: ((S3Error, Int, TimeInterval) -> Void)?

    public init(
        location: S3Location, credentials: CredentialProvider, caFile: String? = nil, stallTimeout: Int = 30,
        retry: RetryPolicy = RetryPolicy(), storageClass: String? = nil
    ) throws {
        self.location = location
        self.credentials = credentials
        self.retry = retry
        self.storageClass = storageClass
        http = try HTTPClient(caFile: caFile, stallTimeout: stallTimeout)
        signer = SigV4(region: location.region)
    }

    /// The full key of `key` (prefix added).
    func fullKey(_ key: String) -> String { location.prefix + key }

    /// Sends one request, retrying what is worth retrying. Returns a 2xx answer.
    ///
    /// A streamed body (`receive`) is retried only while none of it has been handed on.
    /// - Throws: `S3Error`.
    @discardableResult
    func send(
        _ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: UnsafeRawBufferPointer? = nil, receive: ((UnsafeRawBufferPointer) throws -> Void)? = nil,
        errorInBody: Bool = false
    ) throws -> HTTPResponse {
        let resource = key.map { location.url(of: $0) } ?? "s3://\(location.bucket)"
        let full = key.map(fullKey)
        let (origin, path) = location.address(of: full)
        let host = String(origin[origin.range(of: "://")!.upperBound...])
        let payloadHash = body.map(SigV4.sha256Hex) ?? SigV4.emptyPayloadHash
        var last = S3Error(.unavailable, code: "NoAttempt", message: "no request was sent", resource: resource)
        lastAttempts = 0
        for attempt in 1...max(1, retry.attempts) {
            if attempt > 1 {
                let delay = retry.delay(before: attempt - 1)
                onRetry?(last, attempt - 1, delay)
                Thread.sleep(forTimeInterval: delay)
            }
            lastAttempts = attempt
            var delivered = false
            do {
                let signed = signer.sign(
                    method: method, path: path, query: query, headers: headers + [("host", host)], payloadHash: payloadHash,
                    credentials: try credentials.current(), date: Date())
                let request = HTTPRequest(method: method, origin: origin, path: path, query: query, headers: headers + signed)
                let response = try http.send(request, body: body, receive: receive.map { consume in
                    { bytes in
                        delivered = true
                        try consume(bytes)
                    }
                })
                if (200..<300).contains(response.status) {
                    // CompleteMultipartUpload may answer 200 and report its failure in the body.
                    if errorInBody, response.text.contains("<Error>") {
                        last = Self.error(response, resource: resource)
                        if RetryPolicy.retryableCodes.contains(last.code) { continue }
                        throw last
                    }
                    return response
                }
                last = Self.error(response, resource: resource)
                if !delivered, RetryPolicy.retryable(status: response.status) || RetryPolicy.retryableCodes.contains(last.code) { continue }
                throw last
            } catch let error as HTTPError where error.retryable && !delivered {
                last = S3Error(.unavailable, code: "ConnectionError", message: error.message, resource: resource)
            }
        }
        throw S3Error(
            .unavailable, code: last.code, message: "\(last.message) (gave up after \(lastAttempts) attempts)", resource: resource)
    }

    static func error(_ response: HTTPResponse, resource: String) -> S3Error {
        let xml = response.text
        let code = XMLText.value("Code", in: xml) ?? "HTTP\(response.status)"
        let message = XMLText.value("Message", in: xml) ?? "HTTP status \(response.status)"
        let kind: S3Error.Kind
        switch (response.status, code) {
        case (412, _), (_, "PreconditionFailed"): kind = .alreadyExists
        case (404, _), (_, "NoSuchKey"), (_, "NoSuchUpload"), (_, "NoSuchBucket"): kind = .notFound
        case (401, _), (403, _), (_, "ExpiredToken"), (_, "InvalidToken"): kind = .unauthorised
        default: kind = RetryPolicy.retryable(status: response.status) ? .unavailable : .failed
        }
        return S3Error(kind, code: code, message: message, resource: resource)
    }

    static func base64(_ digest: some Sequence<UInt8>) -> String { Data(digest).base64EncodedString() }
}
