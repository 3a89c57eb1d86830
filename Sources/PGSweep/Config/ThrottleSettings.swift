/// `throttle:` under `defaults:` or a job: the signals that pause a job between batches, so
/// that maintenance yields to replicas, replication slots, WAL archiving and the workers.
/// Every limit but `check_interval` may be written `off`.
public struct ThrottleSettings: Sendable, Equatable {
    /// `check_interval` (duration, default: 5s): signals are read at most this often, and a
    /// paused job checks again after this long.
    public var checkInterval: ConfigDuration = .seconds(5)
    /// `max_replica_lag` (duration, default: 30s): pause while a directly attached standby
    /// replays more than this far behind (`pg_stat_replication.replay_lag`).
    public var maxReplicaLag: ConfigDuration? = .seconds(30)
    /// `max_replica_lag_bytes` (size, default: 1GB): pause while a standby's replay is more
    /// than this much WAL behind the primary.
    public var maxReplicaLagBytes: Int64? = 1 << 30
    /// `min_slot_safe_wal_size` (size, default: auto): pause while a replication slot is
    /// `unreserved`, or has less than this much WAL left before it would be invalidated
    /// (`safe_wal_size`; only when `max_slot_wal_keep_size` is set). `auto` is a quarter of
    /// the server's `max_slot_wal_keep_size`, at most 1GB: a fixed 1GB could never be met
    /// where the server keeps 512MB for its slots, and every job would pause until
    /// `max_runtime` doing nothing.
    public var minSlotSafeWalSize: SlotSafeWalLimit? = .automatic
    /// `max_slot_lag_bytes` (size, default: off): pause while a logical slot's consumer (CDC)
    /// has not confirmed more than this much WAL.
    public var maxSlotLagBytes: Int64?
    /// `max_archive_backlog` (int, default: 128): pause while more than this many WAL
    /// segments wait for the archive command (`.ready` files).
    public var maxArchiveBacklog: Int? = 128
    /// `max_wal_rate` (size per second, default: off): pgsweep's own WAL per second over the
    /// run; above it, pgsweep sleeps until its average is back under the cap.
    public var maxWalRate: Int64?
    /// `max_active_sessions` (int, default: off): pause while more client sessions than this,
    /// other than pgsweep's, are active.
    public var maxActiveSessions: Int?
    /// `nice_ratio` (number, default: 0): after each batch, sleep this many times the batch's
    /// duration.
    public var niceRatio: Double = 0
    /// `query` (SQL, default: none): a query returning one boolean; pause while it is true.
    public var query: String?

    public init() {}

    static let keys = [
        "check_interval", "max_replica_lag", "max_replica_lag_bytes", "min_slot_safe_wal_size", "max_slot_lag_bytes",
        "max_archive_backlog", "max_wal_rate", "max_active_sessions", "nice_ratio", "query",
    ]

    /// The names a pause by these settings is recorded under (`throttled_by`, the `reason`
    /// label of `pgsweep_job_throttled_seconds_total`), one per signal that is on.
    public var signalNames: [String] {
        var names: [String] = []
        if maxReplicaLag != nil { names.append("replica_lag") }
        if maxReplicaLagBytes != nil { names.append("replica_lag_bytes") }
        if minSlotSafeWalSize != nil { names += ["slot_unreserved", "slot_safe_wal_size"] }
        if maxSlotLagBytes != nil { names.append("slot_lag_bytes") }
        if maxArchiveBacklog != nil { names.append("archive_backlog") }
        if maxWalRate != nil { names.append("wal_rate") }
        if maxActiveSessions != nil { names.append("active_sessions") }
        if niceRatio > 0 { names.append("nice_ratio") }
        if query != nil { names.append("query") }
        return names
    }

    /// True when any signal is on.
    public var isEnabled: Bool {
        maxReplicaLag != nil || maxReplicaLagBytes != nil || minSlotSafeWalSize != nil || maxSlotLagBytes != nil
            || maxArchiveBacklog != nil || maxWalRate != nil || maxActiveSessions != nil || niceRatio > 0 || query != nil
    }

    mutating func read(_ value: ConfigValue) {
        for (key, child) in value.mapping(allowed: Self.keys) ?? [] {
            let off = child.node.scalar?.string.lowercased() == "off"
            switch key {
            case "check_interval":
                checkInterval = child.parsed("a duration like 5s", ConfigLoader.positiveDuration) ?? checkInterval
            case "max_replica_lag": maxReplicaLag = off ? nil : child.duration() ?? maxReplicaLag
            case "max_replica_lag_bytes": maxReplicaLagBytes = off ? nil : child.byteSize() ?? maxReplicaLagBytes
            case "min_slot_safe_wal_size":
                if off {
                    minSlotSafeWalSize = nil
                } else if child.node.scalar?.string.lowercased() == "auto" {
                    minSlotSafeWalSize = .automatic
                } else {
                    minSlotSafeWalSize = child.byteSize().map(SlotSafeWalLimit.size) ?? minSlotSafeWalSize
                }
            case "max_slot_lag_bytes": maxSlotLagBytes = off ? nil : child.byteSize() ?? maxSlotLagBytes
            case "max_archive_backlog": maxArchiveBacklog = off ? nil : child.positiveInt() ?? maxArchiveBacklog
            case "max_wal_rate":
                maxWalRate = off ? nil : child.parsed("a size per second like 20MB") { text in
                    ByteSize.parse(text.hasSuffix("/s") ? String(text.dropLast(2)) : text).flatMap { $0 > 0 ? $0 : nil }
                } ?? maxWalRate
            case "max_active_sessions": maxActiveSessions = off ? nil : child.positiveInt() ?? maxActiveSessions
            case "nice_ratio":
                niceRatio = off ? 0 : child.parsed("a number of 0 or more, like 0.5") { Double($0).flatMap { $0 >= 0 ? $0 : nil } } ?? niceRatio
            default:
                if off { query = nil } else if let text = child.string(expected: "an SQL query returning one boolean") {
                    if text.trimmingCharacters(in: .whitespaces).isEmpty { query = nil } else { query = text }
                }
            }
        }
    }
}

/// The slot signal's limit: a size, or `auto` (derived from the server's
/// `max_slot_wal_keep_size`).
public enum SlotSafeWalLimit: Sendable, Equatable {
    case automatic
    case size(Int64)

    /// The most `auto` ever asks for.
    static let automaticCap: Int64 = 1 << 30

    /// The limit in bytes on a server that keeps `keepSize` bytes of WAL for its slots (nil
    /// when it keeps unlimited WAL, so no slot has a safe size to compare).
    func bytes(keepSize: Int64?) -> Int64 {
        switch self {
        case .size(let bytes): return bytes
        case .automatic: return keepSize.map { min(Self.automaticCap, $0 / 4) } ?? Self.automaticCap
        }
    }

    /// How the configuration says it (`auto`, `1GB`).
    var description: String {
        switch self {
        case .automatic: return "auto"
        case .size(let bytes): return ByteSize.format(bytes)
        }
    }
}

extension PGSweepConfig {
    /// The jobs' throttle settings that have any signal on, each once, with the jobs that use them.
    public var throttleGroups: [(settings: ThrottleSettings, jobs: [String])] {
        var groups: [(settings: ThrottleSettings, jobs: [String])] = []
        for job in jobs where job.limits.throttle.isEnabled {
            if let index = groups.firstIndex(where: { $0.settings == job.limits.throttle }) {
                groups[index].jobs.append(job.name)
            } else {
                groups.append((job.limits.throttle, [job.name]))
            }
        }
        return groups
    }
}
