import Foundation
import LibPQ

/// Reads the throttle signals that come from the server: replica lag, replication slots,
/// the WAL archive backlog, active sessions, and the user's query. A signal the role may
/// not read (it lacks `pg_monitor`) is reported as unreadable instead.
struct ThrottleSignals {
    let settings: ThrottleSettings

    /// What was read, and the signals that could not be (with why).
    struct Snapshot: Sendable {
        var readings: [ThrottleReading] = []
        var unreadable: [(signal: String, reason: String)] = []

        /// The first reading over its limit, if any.
        var over: ThrottleReading? { readings.first { $0.over } }
    }

    /// A signal whose values this role may not see.
    struct Hidden: Error {
        var reason: String
    }

    func read(on connection: Connection) throws -> Snapshot {
        var snapshot = Snapshot()
        if settings.maxReplicaLag != nil || settings.maxReplicaLagBytes != nil {
            try guarded("replica_lag", into: &snapshot) { try replicas(connection) }
        }
        if settings.minSlotSafeWalSize != nil || settings.maxSlotLagBytes != nil {
            try guarded("slots", into: &snapshot) { try slots(connection) }
        }
        if let limit = settings.maxArchiveBacklog {
            try guarded("archive_backlog", into: &snapshot) {
                let ready = try connection.query(
                    "SELECT count(*) AS ready FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")[0].require(Int64.self, "ready")
                return [ThrottleReading(
                    signal: "archive_backlog", value: "\(ready) WAL segment(s) waiting for the archive command", limit: "\(limit)",
                    over: ready > Int64(limit))]
            }
        }
        if let limit = settings.maxActiveSessions {
            try guarded("active_sessions", into: &snapshot) {
                let row = try connection.query(
                    """
                    SELECT count(*) FILTER (WHERE state = 'active') AS active, count(*) FILTER (WHERE state IS NULL) AS hidden
                    FROM pg_stat_activity
                    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name NOT LIKE 'pgsweep%'
                    """)[0]
                if try row.require(Int64.self, "hidden") > 0 {
                    throw Hidden(reason: "other roles' sessions are hidden from this role (grant it pg_monitor)")
                }
                let active = try row.require(Int64.self, "active")
                return [ThrottleReading(
                    signal: "active_sessions", value: "\(active) active session(s)", limit: "\(limit)", over: active > Int64(limit))]
            }
        }
        if let query = settings.query {
            try guarded("query", into: &snapshot) {
                // The user's query reads, never writes, and never holds the job past its
                // check: READ ONLY, under a statement timeout of check_interval (at least 1s).
                let timeout = ConfigDuration(milliseconds: max(1_000, settings.checkInterval.milliseconds))
                let rows = try connection.transaction(.readOnly) { connection in
                    try connection.set([("statement_timeout", timeout.postgresSetting)], for: .transaction)
                    return try connection.query(query)
                }
                guard rows.count == 1, let value = try rows[0].decode(Bool.self, at: 0) else {
                    throw PGSweepError.checkFailed("throttle.query must return one row with one boolean, it returned \(rows.count) row(s)")
                }
                return [ThrottleReading(signal: "query", value: value ? "true" : "false", limit: "false", over: value)]
            }
        }
        return snapshot
    }

    private func replicas(_ connection: Connection) throws -> [ThrottleReading] {
        var readings: [ThrottleReading] = []
        let rows = try connection.query(
            """
            SELECT coalesce(application_name, '') || coalesce(' at ' || client_addr::text, '') AS standby, state,
                   coalesce(extract(epoch FROM replay_lag), 0)::float8 AS lag_seconds,
                   coalesce(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), replay_lsn), 0)::float8 AS lag_bytes
            FROM pg_stat_replication
            """)
        // The lag is counted from the WAL inserted, not the WAL written: under asynchronous
        // commit a batch's WAL may still be in the server's buffers when the signal is read
        // (the write position has not moved), and the standby lacks it all the same.
        if try rows.contains(where: { try $0.decode(String.self, "state") == nil }) {
            throw Hidden(reason: "pg_stat_replication hides its standbys from this role (grant it pg_monitor)")
        }
        var nobody = "no standby"
        if rows.isEmpty {
            // A standby that should stream but does not is no reason to pause, but it must not
            // read as a healthy "no standby": its slot says one is expected.
            let idle = try connection.query(
                "SELECT string_agg(slot_name::text, ', ' ORDER BY slot_name) AS slots FROM pg_replication_slots WHERE slot_type = 'physical' AND NOT active"
            )[0].decode(String.self, "slots")
            if let idle { nobody = "no standby streaming, though physical slot(s) \(idle) expect one" }
        }
        var worstSeconds: (Double, String) = (0, nobody)
        var worstBytes: (Double, String) = (0, nobody)
        for row in rows {
            let name = try row.require(String.self, "standby")
            let seconds = try row.require(Double.self, "lag_seconds"), bytes = try row.require(Double.self, "lag_bytes")
            if seconds >= worstSeconds.0 { worstSeconds = (seconds, "standby \(name)") }
            if bytes >= worstBytes.0 { worstBytes = (bytes, "standby \(name)") }
        }
        if let limit = settings.maxReplicaLag {
            readings.append(ThrottleReading(
                signal: "replica_lag", value: String(format: "%.1fs", worstSeconds.0) + " on \(worstSeconds.1)",
                limit: limit.description, over: worstSeconds.0 > limit.seconds))
        }
        if let limit = settings.maxReplicaLagBytes {
            readings.append(ThrottleReading(
                signal: "replica_lag_bytes", value: "\(ByteSize.format(Int64(worstBytes.0))) on \(worstBytes.1)",
                limit: ByteSize.format(limit), over: worstBytes.0 > Double(limit)))
        }
        return readings
    }

    private func slots(_ connection: Connection) throws -> [ThrottleReading] {
        var readings: [ThrottleReading] = []
        // wal_status and safe_wal_size exist from PostgreSQL 13.
        let modern = try connection.query("SELECT current_setting('server_version_num')::int >= 130000 AS modern")[0]
            .require(Bool.self, "modern")
        let rows = try connection.query(
            """
            SELECT slot_name::text AS slot, slot_type, \(modern ? "wal_status, safe_wal_size::float8" : "NULL::text AS wal_status, NULL::float8 AS safe_wal_size"),
                   CASE WHEN slot_type = 'logical' THEN pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 END AS lag_bytes
            FROM pg_replication_slots
            """)
        var unreserved: [String] = []
        var safest: (Double, String)?
        var laggiest: (Double, String)?
        for row in rows {
            let slot = try row.require(String.self, "slot")
            if try row.decode(String.self, "wal_status") == "unreserved" { unreserved.append(slot) }
            if let safe = try row.decode(Double.self, "safe_wal_size"), safe < (safest?.0 ?? .infinity) { safest = (safe, slot) }
            if let lag = try row.decode(Double.self, "lag_bytes"), lag > (laggiest?.0 ?? -1) { laggiest = (lag, slot) }
        }
        if let configured = settings.minSlotSafeWalSize {
            let limit = configured.bytes(keepSize: try Self.slotWalKeepSize(connection))
            readings.append(ThrottleReading(
                signal: "slot_unreserved",
                value: unreserved.isEmpty ? "no slot unreserved" : "slot(s) \(unreserved.joined(separator: ", ")) unreserved",
                limit: "none unreserved", over: !unreserved.isEmpty))
            readings.append(ThrottleReading(
                signal: "slot_safe_wal_size",
                value: safest.map { "\(ByteSize.format(Int64(max(0, $0.0)))) left on slot \($0.1)" } ?? "no limit (max_slot_wal_keep_size unset)",
                limit: ByteSize.format(limit) + (configured == .automatic ? " (auto)" : ""), over: (safest?.0 ?? .infinity) < Double(limit)))
        }
        if let limit = settings.maxSlotLagBytes {
            readings.append(ThrottleReading(
                signal: "slot_lag_bytes",
                value: laggiest.map { "\(ByteSize.format(Int64($0.0))) unconfirmed on slot \($0.1)" } ?? "no logical slot",
                limit: ByteSize.format(limit), over: (laggiest?.0 ?? 0) > Double(limit)))
        }
        return readings
    }

    /// The server's `max_slot_wal_keep_size` in bytes, or nil when unlimited (-1).
    static func slotWalKeepSize(_ connection: Connection) throws -> Int64? {
        let megabytes = try connection.query(
            "SELECT setting::int8 AS mb FROM pg_settings WHERE name = 'max_slot_wal_keep_size'").first?.decode(Int64.self, "mb")
        guard let megabytes, megabytes >= 0 else { return nil }
        return megabytes * 1024 * 1024
    }

    /// Runs `read`; a missing privilege makes the signal unreadable instead of failing the run.
    /// A lost connection is thrown on; any other error of the server's (a user's query that
    /// fails, say) also makes the signal unreadable.
    private func guarded(_ signal: String, into snapshot: inout Snapshot, _ read: () throws -> [ThrottleReading]) throws {
        do {
            snapshot.readings += try read()
        } catch let error as Hidden {
            snapshot.unreadable.append((signal, error.reason))
        } catch let error as PostgresError where error.sqlState == .insufficientPrivilege {
            snapshot.unreadable.append((signal, "\(error.message) (grant the role pg_monitor)"))
        } catch let error as PostgresError where !error.isConnectionLost {
            snapshot.unreadable.append((signal, error.message))
        } catch let error as PGSweepError {
            snapshot.unreadable.append((signal, "\(error)"))
        }
    }
}
