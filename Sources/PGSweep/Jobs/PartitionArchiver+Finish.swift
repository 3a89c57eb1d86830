import ArchiveFormat
import Foundation
import LibPQ
import Logging

extension PartitionArchiver {
    /// A partition whose files are durable and ledgered (`archive_partitions` state `copied`)
    /// and which is not dropped yet.
    struct Pending {
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

    /// Finishes the partitions earlier runs left `copied` (their files verified first), then
    /// removes the archiving constraint from any partition that no pending copy explains (a
    /// run killed between freezing and committing its copy).
    func recover() throws {
        let pending = try connection.query(
            """
            SELECT id, partition_name, bounds, row_count FROM \(partitions)
            WHERE table_name = $1 AND database_system_id = $2 AND database_name = $3 AND state = 'copied' ORDER BY id
            """, [queue.name.quoted, queue.database.systemIdentifier, queue.database.name]
        ).map {
            Pending(
                id: try $0.require(Int64.self, "id"), name: try $0.require(String.self, "partition_name"),
                bounds: try $0.require(String.self, "bounds"), rows: try $0.require(Int64.self, "row_count"))
        }
        let hasDefault = try PartitionSurvey.hasDefault(queue, on: connection)
        for partition in pending {
            logger.info("finishing a partition an earlier run copied", metadata: [LogKey.partition: .string(partition.name)])
            try finish(partition, hasDefault: hasDefault, verifyFiles: true)
        }
        let stillPending = Set(try connection.query(
            "SELECT to_regclass(partition_name)::oid::int8 AS oid FROM \(partitions) WHERE table_name = $1 AND state = 'copied'",
            [queue.name.quoted]
        ).compactMap { try $0.decode(Int64.self, "oid") })
        for row in try connection.query(
            """
            SELECT c.oid::int8 AS oid, n.nspname, c.relname FROM pg_inherits i
            JOIN pg_constraint k ON k.conrelid = i.inhrelid AND k.conname = $2
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.inhparent = $1::oid
            """, [Int64(queue.oid), Self.constraint])
        where !stillPending.contains(try row.require(Int64.self, "oid")) {
            let name = QualifiedName(schema: try row.require(String.self, "nspname"), name: try row.require(String.self, "relname"))
            logger.info("removing the archiving constraint an interrupted run left", metadata: [LogKey.partition: .string(name.description)])
            unfreeze(name.quoted)
        }
    }

    /// Steps 3 and 4 for `partition`: detach (or finish detaching), then drop. With
    /// `verifyFiles`, its files are read back first; if they do not verify, the partition is
    /// put back instead. Returns false when it is left for the next run: a lock not had
    /// within `lock_timeout`, a long transaction on the table, or a detach cut short.
    @discardableResult
    func finish(_ partition: Pending, hasDefault: Bool, verifyFiles: Bool) throws -> Bool {
        if verifyFiles, let problem = try filesProblem(partition) {
            try keep(partition, because: problem)
            return true
        }
        do {
            switch try place(of: partition) {
            case .gone:
                try mark(partition, "dropped", detail: "dropped outside pgsweep after its rows were copied; they are in its files")
                return true
            case .elsewhere:
                logger.warning(
                    "a copied partition is attached to another table; left alone", metadata: [LogKey.partition: .string(partition.name)])
                return true
            case .attached:
                if let holder = try oldLockHolder(of: [Int64(queue.oid)]) {
                    logger.warning(
                        "partition copied but not yet detached: a long transaction holds a lock on the table; the next archive run finishes it",
                        metadata: [LogKey.partition: .string(partition.name), LogKey.reason: .string(holder)])
                    return false
                }
                try detach(partition, hasDefault: hasDefault)
            case .detaching:
                try connection.withSettings([("statement_timeout", "0")]) {
                    _ = try connection.execute("ALTER TABLE \(queue.name.quoted) DETACH PARTITION \(partition.name) FINALIZE")
                }
            case .detached:
                break
            }
            FaultInjection.point("partition-after-detach")
            try drop(partition)
            return true
        } catch let error as PostgresError where error.sqlState == .lockNotAvailable || error.sqlState == .queryCanceled {
            if context.shutdown.isRequested { throw error }
            logger.warning(
                "partition copied but not yet dropped: its lock was busy; the next archive run finishes it",
                metadata: [LogKey.partition: .string(partition.name), LogKey.error: .string(error.message)])
            return false
        } catch let problem as Unsafe {
            try keep(partition, because: problem.reason)
            return true
        }
    }

    /// Why a partition must not be dropped.
    private struct Unsafe: Error {
        var reason: String
    }

    private func place(of partition: Pending) throws -> Place {
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
    private func detach(_ partition: Pending, hasDefault: Bool) throws {
        let version = try connection.query("SELECT current_setting('server_version_num')::int4 AS v")[0].require(Int32.self, "v")
        if version >= 140_000 && !hasDefault {
            // Not in a transaction block. Its second step waits for every transaction holding
            // a lock on the table, and a timeout there would leave it half done, so that wait is
            // not cut at lock_timeout (the caller checked no long transaction is among them;
            // new ones do not wait behind it); the statement timeout still bounds it.
            try connection.withSettings([("statement_timeout", context.statementTimeout.postgresSetting), ("lock_timeout", "0")]) {
                _ = try connection.execute("ALTER TABLE \(queue.name.quoted) DETACH PARTITION \(partition.name) CONCURRENTLY")
            }
        } else {
            try connection.transaction { connection in
                try connection.set([("lock_timeout", context.lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute("ALTER TABLE \(queue.name.quoted) DETACH PARTITION \(partition.name)")
            }
        }
    }

    /// Drops the detached partition in the transaction that marks it dropped, once it is
    /// still detached, still frozen, and holds no row its files do not.
    private func drop(_ partition: Pending) throws {
        try connection.transaction { connection in
            try connection.set(
                [("lock_timeout", context.lockTimeout.postgresSetting), ("statement_timeout", context.statementTimeout.postgresSetting)],
                for: .transaction)
            try connection.execute("LOCK TABLE \(partition.name) IN ACCESS EXCLUSIVE MODE")
            let facts = try connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = $1::regclass) AS attached,
                       EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2) AS frozen,
                       (SELECT count(*) FROM \(partition.name)) AS rows
                """, [partition.name, Self.constraint])[0]
            if try facts.require(Bool.self, "attached") { throw Unsafe(reason: "it is attached again") }
            if try !facts.require(Bool.self, "frozen") {
                throw Unsafe(reason: "its \(Self.constraint) constraint is gone, so rows may have changed since they were copied")
            }
            let rows = try facts.require(Int64.self, "rows")
            if rows > partition.rows { throw Unsafe(reason: "it holds \(rows) rows, its files \(partition.rows)") }
            FaultInjection.point("partition-before-drop")
            try connection.execute("DROP TABLE \(partition.name)")
            try connection.execute(
                "UPDATE \(partitions) SET state = 'dropped', finished_at = now() WHERE id = $1 AND state = 'copied'", [partition.id])
        }
        logger.info("partition detached and dropped", metadata: [LogKey.partition: .string(partition.name)])
    }

    /// Why the partition's files cannot stand in for it (one unreadable or changed, rows
    /// missing), or nil. A store that cannot be reached throws instead: the next run tries again.
    private func filesProblem(_ partition: Pending) throws -> String? {
        var rows: Int64 = 0
        for row in try connection.query("SELECT file, sha256, row_count FROM \(batches) WHERE partition_id = $1 ORDER BY id", [partition.id]) {
            let file = try row.require(String.self, "file")
            do {
                let verified = try ArchiveFileReader.verify(store, file)
                guard verified.manifest.sha256 == (try row.require(String.self, "sha256")) else {
                    return "file \(file) does not match its ledger row"
                }
            } catch let error as ArchiveError {
                return "file \(file): \(error.reason)"
            }
            rows += try row.require(Int64.self, "row_count")
        }
        return rows == partition.rows ? nil : "its files hold \(rows) rows of its \(partition.rows)"
    }

    /// Puts the partition back into the table (finishing a detach first, re-attaching it with
    /// its bounds), unfreezes it, and unledgers its files: the table holds its rows again.
    private func keep(_ partition: Pending, because reason: String) throws {
        logger.warning(
            "partition not dropped; putting it back into the table",
            metadata: [LogKey.partition: .string(partition.name), LogKey.reason: .string(reason)])
        switch try place(of: partition) {
        case .gone:
            logger.error(
                "a copied partition is gone and its files do not verify; see archive verify",
                metadata: [LogKey.partition: .string(partition.name), LogKey.reason: .string(reason)])
            try mark(partition, "dropped", detail: "dropped outside pgsweep; its files: \(reason)")
            return
        case .elsewhere:
            return
        case .detaching:
            try connection.withSettings([("statement_timeout", "0")]) {
                _ = try connection.execute("ALTER TABLE \(queue.name.quoted) DETACH PARTITION \(partition.name) FINALIZE")
            }
            fallthrough
        case .detached:
            try connection.transaction { connection in
                try connection.set([("lock_timeout", context.lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute("ALTER TABLE \(queue.name.quoted) ATTACH PARTITION \(partition.name) \(partition.bounds)")
            }
        case .attached:
            break
        }
        unfreeze(partition.name)
        try connection.transaction { connection in
            try connection.execute("DELETE FROM \(batches) WHERE partition_id = $1", [partition.id])
            try connection.execute(
                "UPDATE \(partitions) SET state = 'kept', detail = $2, finished_at = now() WHERE id = $1", [partition.id, reason])
        }
    }

    private func mark(_ partition: Pending, _ state: String, detail: String) throws {
        try connection.execute(
            "UPDATE \(partitions) SET state = $2, detail = $3, finished_at = now() WHERE id = $1", [partition.id, state, detail])
    }
}
