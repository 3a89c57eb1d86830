import Foundation

/// How often and how patiently a failed request is tried again: exponential back-off with
/// full jitter (a random wait between zero and the attempt's ceiling).
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included. Defaults to 5.
    public var attempts: Int
    /// The first ceiling; each retry doubles it. Defaults to 0.2 s.
    public var base: TimeInterval
    /// The largest ceiling. Defaults to 10 s.
    public var cap: TimeInterval

    public init(attempts: Int = 5, base: TimeInterval = 0.2, cap: TimeInterval = 10) {
        self.attempts = attempts
        self.base = base
        self.cap = cap
    }

    /// The wait before retry `number` (1 for the first retry).
    public func delay(before number: Int) -> TimeInterval {
        let ceiling = min(cap, base * pow(2, Double(number - 1)))
        return Double.random(in: 0...ceiling)
    }

    /// HTTP statuses worth another attempt: server errors, request timeout, too many requests.
    public static func retryable(status: Int) -> Bool { status == 408 || status == 429 || (500...599).contains(status) }

    /// Error codes S3 sends (sometimes inside a 200 answer) that are worth another attempt.
    public static let retryableCodes: Set<String> = ["InternalError", "SlowDown", "RequestTimeout", "ServiceUnavailable", "RequestTimeTooSkewed"]
}
