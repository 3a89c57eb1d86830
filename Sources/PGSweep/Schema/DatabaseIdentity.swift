import LibPQ

/// Which database a connection reaches: the cluster's system identifier (different for
/// every cluster made by `initdb`; a physical copy such as a streaming standby shares it)
/// and the database's name (different for every database of a cluster).
public struct DatabaseIdentity: Sendable, Hashable, CustomStringConvertible {
    /// `pg_control_system().system_identifier` as an unsigned decimal, as `pg_controldata` prints it.
    public var systemIdentifier: String
    public var name: String

    public var description: String { "\(name) (system \(systemIdentifier))" }

    /// Reads the identity of the database `connection` is connected to.
    public static func read(on connection: Connection) throws -> DatabaseIdentity {
        let row = try connection.query(
            "SELECT (SELECT system_identifier FROM pg_control_system()) AS system, current_database() AS name")[0]
        // system_identifier is an unsigned 64-bit number that PostgreSQL shows as a signed bigint.
        let signed = try row.require(Int64.self, "system")
        return DatabaseIdentity(systemIdentifier: String(UInt64(bitPattern: signed)), name: try row.require(String.self, "name"))
    }
}
