/// An object store's refusal, or no answer after every retry.
///
/// Carries the store's error code and message and the request's key, never a credential.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The object exists and the request said `If-None-Match: *`: it was not overwritten.
        case alreadyExists
        /// No such object, upload or bucket.
        case notFound
        /// Credentials missing or refused (a wrong secret, an expired token).
        case unauthorised
        /// Any other error answer.
        case failed
        /// No usable answer after every attempt (connection errors, 5xx, throttling).
        case unavailable
        /// What was stored is not what was sent (size or checksum differ).
        case mismatch
    }

    public var kind: Kind
    /// The store's code (`SignatureDoesNotMatch`, `PreconditionFailed`), or the HTTP status.
    public var code: String
    public var message: String
    /// `s3://bucket/key` or the operation concerned.
    public var resource: String

    public init(_ kind: Kind, code: String, message: String, resource: String) {
        self.kind = kind
        self.code = code
        self.message = message
        self.resource = resource
    }

    public var description: String { "\(resource): \(code): \(message)" }
}
