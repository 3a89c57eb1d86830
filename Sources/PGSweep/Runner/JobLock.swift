import LibPQ

/// The lock that keeps two runners from running the same job at once: a session-level
/// PostgreSQL advisory lock keyed by pgsweep's schema, the table and the job's name.
///
/// Why an advisory lock and not a lease row: the server drops it the moment the holding
/// session ends (a killed runner, a lost network), so there is no expiry to tune and no
/// heartbeat to keep. The cost: it needs a real session, so pgsweep must connect directly
/// or through a pool in session mode; behind PgBouncer in transaction mode the lock would
/// stay on whichever server connection took it.
struct JobLock {
    let namespace: String
    let job: String

    init(schema: String, table: QualifiedName, job: String) {
        namespace = "pgsweep:\(schema):\(table)"
        self.job = job
    }

    /// Takes the lock if free; false when another session holds it.
    func tryAcquire(on connection: Connection) throws -> Bool {
        let rows = try connection.query("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))", [namespace, job])
        return try rows[0].decode(Bool.self, at: 0) ?? false
    }

    func release(on connection: Connection) {
        _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))", [namespace, job])
    }
}
