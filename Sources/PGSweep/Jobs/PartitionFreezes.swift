import Foundation
import LibPQ
import Logging

/// The partitions of a queue that pgsweep froze (`pgsweep_archiving CHECK (false) NOT VALID`)
/// to take them whole, and what the ledger says of each.
///
/// A freeze is explained while its partition is `copied` in `archive_partitions` (its rows are
/// in ledgered files, waiting for the detach and drop) or while an archive run holds the
/// table's archive lock (it may be copying it now). Any other freeze was left by a run that is
/// gone, and every insert or update into that partition fails until it is removed, so any
/// pgsweep run that can take the archive lock removes it, whatever job it runs.
struct PartitionFreezes {
    let queue: QueueTable
    let schema: String

    /// One frozen partition.
    struct Frozen: Sendable {
        var name: QualifiedName
        /// True when a `copied` ledger row explains the freeze.
        var copied: Bool
    }

    private var partitions: String { QualifiedName(schema: schema, name: "archive_partitions").quoted }

    /// Every partition of the queue that carries the archiving constraint.
    func frozen(on connection: Connection) throws -> [Frozen] {
        guard queue.isPartitioned else { return [] }
        return try connection.query(
            """
            SELECT n.nspname, c.relname,
                   EXISTS (SELECT 1 FROM \(partitions) p
                           WHERE to_regclass(p.partition_name) = c.oid AND p.state = 'copied'
                             AND p.table_name = $3 AND p.database_system_id = $4 AND p.database_name = $5) AS copied
            FROM pg_inherits i
            JOIN pg_constraint k ON k.conrelid = i.inhrelid AND k.conname = $2
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.inhparent = $1::oid
            ORDER BY c.relname
            """,
            [Int64(queue.oid), PartitionDropper.constraint, queue.name.quoted, queue.database.systemIdentifier, queue.database.name]
        ).map {
            Frozen(
                name: QualifiedName(schema: try $0.require(String.self, "nspname"), name: try $0.require(String.self, "relname")),
                copied: try $0.require(Bool.self, "copied"))
        }
    }

    /// The oids of the queue's partitions, still attached, whose rows are already in ledgered
    /// files (state `copied`): a row-by-row pass must leave them alone.
    func copied(on connection: Connection) throws -> [Int64] {
        guard queue.isPartitioned else { return [] }
        return try connection.query(
            """
            SELECT i.inhrelid::int8 AS oid FROM \(partitions) p JOIN pg_inherits i ON i.inhrelid = to_regclass(p.partition_name)
            WHERE p.state = 'copied' AND p.table_name = $1 AND p.database_system_id = $2 AND p.database_name = $3
              AND i.inhparent = $4::oid
            """, [queue.name.quoted, queue.database.systemIdentifier, queue.database.name, Int64(queue.oid)]
        ).map { try $0.require(Int64.self, "oid") }
    }

    /// Removes every freeze no `copied` row explains, when no archive of the table is running
    /// (the archive lock is free); returns the partitions unfrozen. A run that cannot take the
    /// lock leaves them to the archive run that holds it.
    func clearStale(lockTimeout: ConfigDuration, logger: Logger, on connection: Connection) throws -> [QualifiedName] {
        guard queue.isPartitioned else { return [] }
        let stale = try frozen(on: connection).filter { !$0.copied }
        guard !stale.isEmpty else { return [] }
        let lock = ArchiveLock(schema: schema, table: queue.name)
        guard try lock.tryExclusive(on: connection) else { return [] }
        defer { lock.releaseExclusive(on: connection) }
        // Read again under the lock: an archive run may have committed a copy meanwhile.
        let still = try frozen(on: connection).filter { !$0.copied }
        var cleared: [QualifiedName] = []
        for partition in still {
            logger.warning(
                "removing the archiving constraint an interrupted archive run left (inserts and updates into the partition failed meanwhile)",
                metadata: [LogKey.partition: .string(partition.name.description)])
            if Self.unfreeze(partition.name.quoted, lockTimeout: lockTimeout, logger: logger, on: connection) {
                cleared.append(partition.name)
            }
        }
        return cleared
    }

    /// Drops the freezing constraint of `name` (quoted), if there, under `lockTimeout`; a
    /// failure is logged and false returned (the next run retries).
    @discardableResult
    static func unfreeze(_ name: String, lockTimeout: ConfigDuration, logger: Logger, on connection: Connection) -> Bool {
        do {
            try connection.transaction { connection in
                try connection.set([("lock_timeout", lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute("ALTER TABLE \(name) DROP CONSTRAINT IF EXISTS \(PartitionDropper.constraint)")
            }
            return true
        } catch {
            logger.warning(
                "could not remove the archiving constraint; the next run removes it",
                metadata: [LogKey.partition: .string(name), LogKey.error: .string("\(error)")])
            return false
        }
    }
}
