import Foundation
import LibPQ
import Logging

/// The last steps of taking a partition whole, once its rows are in ledgered files
/// (`archive_partitions` state `copied`): detach it (or finish an interrupted detach), then
/// drop it in the transaction that marks it `dropped`; or, when it must not be dropped, put
/// it back into the table. Works on the connection it is given, so a run can drop one
/// partition on a second connection while it copies the next.
struct PartitionDropper: Sendable {
    let queue: QueueTable
    let schema: String
    let lockTimeout: ConfigDuration
    let statementTimeout: ConfigDuration
    let logger: Logger
    let shutdown: Shutdown

    /// The constraint that keeps writers out of a partition being archived.
    static let constraint = "pgsweep_archiving"

    var partitions: String { QualifiedName(schema: schema, name: "archive_partitions").quoted }
    var batches: String { QualifiedName(schema: schema, name: "archive_batches").quoted }

    /// A partition whose files are durable and ledgered and which is not dropped yet.
    struct Pending: Sendable {
        var id: Int64
        /// Schema-qualified and quoted.
        var name: String
        var bounds: String
        var rows: Int64
    }

    /// Where a pending partition is now.
    enum Place {
        case attached, detaching, detached, gone
        /// Attached to a table other than the queue: left alone.
        case elsewhere
    }

    /// Why a partition must not be dropped.
    struct Unsafe: Error {
        var reason: String
    }

    /// Detaches (or finishes detaching) `partition`, then drops it. `checkRows` counts its
    /// rows first (a partition an earlier run left). Returns false when it is left for the
    /// next run: a lock not had within `lock_timeout`, a long transaction on the table, or a
    /// detach cut short. A partition that must not be dropped is put back (`keep`).
    ///
    /// `serial`, when given, is held around the steps that change the table's partitions
    /// (detach, put back): PostgreSQL allows one unfinished detach per table, so threads
    /// finishing partitions at once take turns there and drop side by side.
    func finish(_ partition: Pending, hasDefault: Bool, checkRows: Bool, serial: NSLock? = nil, on connection: Connection) throws -> Bool {
        serial?.lock()
        var holding = serial != nil
        defer { if holding { serial?.unlock() } }
        do {
            switch try place(of: partition, on: connection) {
            case .gone:
                try mark(partition, "dropped", detail: "dropped outside pgsweep after its rows were copied; they are in its files", on: connection)
                return true
            case .elsewhere:
                logger.warning(
                    "a copied partition is attached to another table; left alone", metadata: [LogKey.partition: .string(partition.name)])
                return true
            case .attached:
                if let holder = try oldLockHolder(of: [Int64(queue.oid)], on: connection) {
                    logger.warning(
                        "partition copied but not yet detached: a long transaction holds a lock on the table; the next archive run finishes it",
                        metadata: [LogKey.partition: .string(partition.name), LogKey.reason: .string(holder)])
                    return false
                }
                do {
                    try detach(partition, hasDefault: hasDefault, on: connection)
                } catch let error as PostgresError where error.kind == .server && !error.isConnectionLost
                    && error.sqlState != .lockNotAvailable && error.sqlState != .queryCanceled
                {
                    // A partition that cannot be detached (a foreign key references its rows,
                    // say) must not stay frozen: every insert or update into it would fail.
                    throw Unsafe(reason: "DETACH failed: \(error.message)\(error.sqlState.map { " (SQLSTATE \($0))" } ?? "")")
                }
            case .detaching:
                try finalize(partition, on: connection)
            case .detached:
                break
            }
            if holding {
                serial?.unlock()
                holding = false
            }
            FaultInjection.point("partition-after-detach")
            try drop(partition, checkRows: checkRows, on: connection)
            return true
        } catch let error as PostgresError where error.sqlState == .lockNotAvailable || error.sqlState == .queryCanceled {
            if shutdown.isRequested { throw error }
            logger.warning(
                "partition copied but not yet dropped: its lock was busy; the next archive run finishes it",
                metadata: [LogKey.partition: .string(partition.name), LogKey.error: .string(error.message)])
            return false
        } catch let problem as Unsafe {
            if !holding {
                serial?.lock()
                holding = serial != nil
            }
            try keep(partition, because: problem.reason, on: connection)
            return true
        }
    }

    /// A session other than this one holding a lock on one of `relations` in a transaction
    /// open longer than `lock_timeout`, described; nil when there is none. A concurrent
    /// detach waits for every transaction holding a lock on the table to end.
    func oldLockHolder(of relations: [Int64], on connection: Connection) throws -> String? {
        try connection.query(
            """
            SELECT format('pid %s, in a transaction for %ss', l.pid, round(extract(epoch FROM now() - a.xact_start))) AS holder
            FROM pg_locks l CROSS JOIN LATERAL pg_stat_get_activity(l.pid) a
            WHERE l.locktype = 'relation' AND l.granted AND l.relation = ANY($1::int8[]::oid[]) AND l.pid <> pg_backend_pid()
              AND a.xact_start < now() - $2::interval
            ORDER BY a.xact_start LIMIT 1
            """, [relations, lockTimeout.postgresSetting]
        ).first?.decode(String.self, "holder")
    }

    /// Drops the freezing constraint of `name` (quoted), if there; a failure is logged (the
    /// next run retries).
    func unfreeze(_ name: String, on connection: Connection) {
        PartitionFreezes.unfreeze(name, lockTimeout: lockTimeout, logger: logger, on: connection)
    }

    func place(of partition: Pending, on connection: Connection) throws -> Place {
        let rows = try connection.query(
            """
            SELECT i.inhparent::int8 AS parent, i.inhdetachpending AS detaching FROM pg_class c
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.oid = to_regclass($1)
            """, [partition.name])
        guard let row = rows.first else { return .gone }
        guard let parent = try row.decode(Int64.self, "parent") else { return .detached }
        guard parent == Int64(queue.oid) else { return .elsewhere }
        return try row.require(Bool.self, "detaching") ? .detaching : .attached
    }

    /// `DETACH PARTITION ... CONCURRENTLY` where PostgreSQL allows it (14 on, no default
    /// partition), else a plain `DETACH` in a transaction under `lock_timeout`.
    private func detach(_ partition: Pending, hasDefault: Bool, on connection: Connection) throws {
        if connection.serverVersion >= 140_000 && !hasDefault {
            // Not in a transaction block. Its second step waits for every transaction holding
            // a lock on the table, and a timeout there would leave it half done, so that wait is
            // not cut at lock_timeout (the caller checked no long transaction is among them;
            // new ones do not wait behind it); the statement timeout still bounds it.
            try connection.withSettings([("statement_timeout", statementTimeout.postgresSetting), ("lock_timeout", "0")]) {
                _ = try connection.execute("ALTER TABLE \(queue.name.quoted) DETACH PARTITION \(partition.name) CONCURRENTLY")
            }
        } else {
            try connection.transaction { connection in
                try connection.set([("lock_timeout", lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute("ALTER TABLE \(queue.name.quoted) DETACH PARTITION \(partition.name)")
            }
        }
    }

    /// Completes a detach an interrupted run left pending.
    private func finalize(_ partition: Pending, on connection: Connection) throws {
        try connection.withSettings([("statement_timeout", statementTimeout.postgresSetting), ("lock_timeout", "0")]) {
            _ = try connection.execute("ALTER TABLE \(queue.name.quoted) DETACH PARTITION \(partition.name) FINALIZE")
        }
    }

    /// Drops the detached partition in the transaction that marks it dropped, once it is
    /// still detached and still frozen (and, with `checkRows`, holds no row its files do not).
    private func drop(_ partition: Pending, checkRows: Bool, on connection: Connection) throws {
        try connection.transaction { connection in
            try connection.set(
                [("lock_timeout", lockTimeout.postgresSetting), ("statement_timeout", statementTimeout.postgresSetting)],
                for: .transaction)
            try connection.execute("LOCK TABLE \(partition.name) IN ACCESS EXCLUSIVE MODE")
            let facts = try connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = $1::regclass) AS attached,
                       EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2) AS frozen
                """, [partition.name, Self.constraint])[0]
            if try facts.require(Bool.self, "attached") { throw Unsafe(reason: "it is attached again") }
            if try !facts.require(Bool.self, "frozen") {
                throw Unsafe(reason: "its \(Self.constraint) constraint is gone, so rows may have changed since they were copied")
            }
            if checkRows {
                let rows = try connection.query("SELECT count(*) AS rows FROM \(partition.name)")[0].require(Int64.self, "rows")
                if rows > partition.rows { throw Unsafe(reason: "it holds \(rows) rows, its files \(partition.rows)") }
            }
            FaultInjection.point("partition-before-drop")
            try connection.execute("DROP TABLE \(partition.name)")
            try connection.execute(
                "UPDATE \(partitions) SET state = 'dropped', finished_at = now() WHERE id = $1 AND state = 'copied'", [partition.id])
        }
        logger.info("partition detached and dropped", metadata: [LogKey.partition: .string(partition.name)])
    }

    /// Puts the partition back into the table (finishing a detach first, re-attaching it with
    /// its bounds), unfreezes it, and unledgers its files: the table holds its rows again.
    func keep(_ partition: Pending, because reason: String, on connection: Connection) throws {
        logger.warning(
            "partition not dropped; putting it back into the table",
            metadata: [LogKey.partition: .string(partition.name), LogKey.reason: .string(reason)])
        let place = try place(of: partition, on: connection)
        switch place {
        case .gone:
            logger.error(
                "a copied partition is gone and its files do not verify; see archive verify",
                metadata: [LogKey.partition: .string(partition.name), LogKey.reason: .string(reason)])
            try mark(partition, "dropped", detail: "dropped outside pgsweep; its files: \(reason)", on: connection)
            return
        case .elsewhere:
            return
        case .attached, .detached, .detaching:
            break
        }
        // Its files are unledgered below, so the partition must still hold every row they do;
        // one emptied meanwhile (its rows gone some other way) is left as it is.
        let rows = try connection.query("SELECT count(*) AS rows FROM \(partition.name)")[0].require(Int64.self, "rows")
        if rows < partition.rows {
            logger.error(
                "a copied partition holds fewer rows than its files; left frozen and ledgered for a person to look at (see archive verify)",
                metadata: [LogKey.partition: .string(partition.name), LogKey.reason: .string(reason), LogKey.rows: "\(rows)"])
            return
        }
        if place == .detaching { try finalize(partition, on: connection) }
        if place != .attached {
            try connection.transaction { connection in
                try connection.set([("lock_timeout", lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute("ALTER TABLE \(queue.name.quoted) ATTACH PARTITION \(partition.name) \(partition.bounds)")
            }
        }
        unfreeze(partition.name, on: connection)
        try connection.transaction { connection in
            try connection.execute("DELETE FROM \(batches) WHERE partition_id = $1", [partition.id])
            try connection.execute(
                "UPDATE \(partitions) SET state = 'kept', detail = $2, finished_at = now() WHERE id = $1", [partition.id, reason])
        }
    }

    private func mark(_ partition: Pending, _ state: String, detail: String, on connection: Connection) throws {
        try connection.execute(
            "UPDATE \(partitions) SET state = $2, detail = $3, finished_at = now() WHERE id = $1", [partition.id, state, detail])
    }
}
