/// One throttle signal's current value against its limit.
public struct ThrottleReading: Sendable, Equatable, Encodable {
    /// The signal, as metrics and logs name it: `replica_lag`, `replica_lag_bytes`,
    /// `slot_unreserved`, `slot_safe_wal_size`, `slot_lag_bytes`, `archive_backlog`,
    /// `active_sessions`, `query`, `wal_rate`, `nice_ratio`.
    public var signal: String
    /// The value now, with what it concerns (`12.5s on standby walreceiver`).
    public var value: String
    /// The configured limit, as written.
    public var limit: String
    /// True when the value is past the limit: the job pauses.
    public var over: Bool
}
