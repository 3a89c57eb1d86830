import Foundation
import LibPQ

/// The lock between archiving a table and repairing its archive files: every archive run
/// holds it shared, `archive verify --repair` holds it exclusively; both only try, never wait.
///
/// Why one lock per table, not the archive jobs' own locks: the repair removes files that
/// have no ledger row yet, which is also what a batch's file is between its rename and its
/// commit. It must exclude every archive of the table, whatever configuration or job name
/// runs it, and only a lock keyed by the table alone does. A session-level PostgreSQL
/// advisory lock, like `JobLock`, so a killed process never leaves it held.
struct ArchiveLock {
    let namespace: String

    init(schema: String, table: QualifiedName) {
        namespace = "pgsweep:\(schema):\(table.quoted)"
    }

    /// The second key: a space is never in a job name, so this lock never meets a `JobLock`.
    private static let name = "archive files"

    /// Takes the lock shared (archiving) if no repair holds it.
    func tryShared(on connection: Connection) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock_shared(hashtext($1), hashtext($2)) AS taken", [namespace, Self.name])[0]
            .require(Bool.self, "taken")
    }

    /// Takes the lock shared, trying again for up to `patience` while another session holds
    /// it exclusively: a runner clearing an interrupted run's leftovers holds it for a few
    /// milliseconds, a repair for as long as it takes. False when it was not had in time or
    /// a stop was requested.
    func shared(within patience: ConfigDuration, shutdown: Shutdown, on connection: Connection) throws -> Bool {
        let deadline = Date().addingTimeInterval(patience.seconds)
        while true {
            if try tryShared(on: connection) { return true }
            if Date() >= deadline { return false }
            if shutdown.isRequested { return false }
            usleep(20_000)
        }
    }

    func releaseShared(on connection: Connection) {
        _ = try? connection.execute("SELECT pg_advisory_unlock_shared(hashtext($1), hashtext($2))", [namespace, Self.name])
    }

    /// True when no session holds the lock, shared or exclusive (no archive or repair of the
    /// table runs).
    func isFree(on connection: Connection) throws -> Bool {
        guard try tryExclusive(on: connection) else { return false }
        releaseExclusive(on: connection)
        return true
    }

    /// Takes the lock exclusively (repairing) if nobody holds it.
    func tryExclusive(on connection: Connection) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS taken", [namespace, Self.name])[0]
            .require(Bool.self, "taken")
    }

    func releaseExclusive(on connection: Connection) {
        _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))", [namespace, Self.name])
    }
}
