extension Connection {
    /// How long a setting made by `set(_:for:)` lasts.
    public enum SettingScope: Sendable {
        /// Until the open transaction ends (`SET LOCAL`); needs a transaction.
        case transaction
        /// For the rest of the session (`SET`).
        case session
    }

    /// Sets run-time parameters (`statement_timeout`, `lock_timeout`, custom `pgsweep.*`...)
    /// for `scope`, all in one round trip. Values are bound, never placed in the SQL text.
    public func set(_ settings: [(name: String, value: String)], for scope: SettingScope) throws {
        guard !settings.isEmpty else { return }
        let local = scope == .transaction ? "true" : "false"
        let calls = settings.indices.map { "set_config($\($0 * 2 + 1), $\($0 * 2 + 2), \(local))" }.joined(separator: ", ")
        try execute("SELECT \(calls)", settings.flatMap { [$0.name, $0.value] as [(any PostgresBindable)?] })
    }

    /// Runs `body` with `settings` in force for the session, then puts back the values they
    /// had before, on every path: when `body` throws, and when it returns.
    ///
    /// For statements that cannot run inside a transaction (`REINDEX CONCURRENTLY`, `CREATE
    /// INDEX CONCURRENTLY`) or that outlast one (`ANALYZE` of a big table). A connection that
    /// broke meanwhile is left as it is: its session is gone with its settings. (Inside a
    /// transaction that then rolls back, PostgreSQL undoes the settings itself.)
    public func withSettings<T>(_ settings: [(name: String, value: String)], _ body: () throws -> T) throws -> T {
        guard !settings.isEmpty else { return try body() }
        let reads = settings.indices.map { "current_setting($\($0 + 1))" }.joined(separator: ", ")
        let row = try query("SELECT \(reads)", settings.map { $0.name as (any PostgresBindable)? })[0]
        let previous = try settings.indices.map { (name: settings[$0].name, value: try row.require(String.self, at: $0)) }
        try set(settings, for: .session)
        defer { if isHealthy { _ = try? set(previous, for: .session) } }
        return try body()
    }
}
