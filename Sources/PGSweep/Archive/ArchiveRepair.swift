import ArchiveFormat
import Foundation
import LibPQ
import Logging

/// `archive verify [--repair]`: checks every archive file of the configured database and
/// table against the ledger, fully (SHA-256, zstd frames, rows); with repair, removes the
/// leftovers of interrupted runs while holding the table's archive lock exclusively, so no
/// archive of the table, from any configuration, is writing meanwhile.
public struct ArchiveRepair {
    public let config: PGSweepConfig
    public let logger: Logger

    public init(config: PGSweepConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// What was found, and what was removed (keys relative to the archive folder or prefix).
    public struct Outcome: Sendable {
        public var inventory: ArchiveInventory
        public var removed: [String]
        /// Partitions copied whole into ledgered files but not dropped yet, described: their
        /// rows are in both, which is not damage; the next archive run finishes them.
        public var pendingPartitions: [String] = []
    }

    /// Verifies; with `repair`, removes leftovers.
    ///
    /// - Throws: `PGSweepError.checkFailed`, before anything is read, when an archive of the
    ///   table is running (repair only).
    public func run(repair: Bool, on connection: Connection) throws -> Outcome {
        let queue = try QueueTable.resolve(config.table, on: connection)
        let lock = ArchiveLock(schema: config.schema, table: queue.name)
        if repair {
            guard try lock.tryExclusive(on: connection) else {
                throw PGSweepError.checkFailed(
                    "an archive of \(queue.name) is running; try --repair again when it has finished (nothing was removed)")
            }
        }
        defer { if repair { lock.releaseExclusive(on: connection) } }
        let store = try config.archive.makeStore(logger: logger)
        var inventory = try ArchiveInventory.scan(
            store: store, scope: ArchiveScope(queue), ledger: ArchiveLedger(schema: config.schema), queue: queue,
            connection: connection, deep: true)
        var pending = try pendingPartitions(of: queue, on: connection)
        // A freeze whose run is gone blocks every insert and update into its partition: said
        // here, and removed by --repair (which holds the archive lock, so no run is copying).
        let freezes = PartitionFreezes(queue: queue, schema: config.schema)
        if repair {
            for name in try freezes.clearStale(lockTimeout: config.database.lockTimeout, logger: logger, on: connection) {
                pending.descriptions.append("partition \(name): removed the archiving constraint an interrupted archive run left")
            }
        } else if try lock.isFree(on: connection) {
            for partition in try freezes.frozen(on: connection) where !partition.copied {
                pending.descriptions.append(
                    "partition \(partition.name): frozen by an interrupted archive run (\(PartitionDropper.constraint)), so inserts and "
                        + "updates into it fail; --repair or any pgsweep run removes the freeze")
            }
        }
        for index in inventory.items.indices {
            if let partition = pending.files[inventory.items[index].file], inventory.items[index].state == .ok {
                inventory.items[index].detail = "its rows are also still in \(partition), copied whole and not yet dropped"
            }
        }
        let removed = repair ? try inventory.removeLeftovers(from: store) : []
        if !removed.isEmpty {
            logger.info("removed leftovers of interrupted runs", metadata: [LogKey.removed: .array(removed.map { .string($0) })])
        }
        return Outcome(inventory: inventory, removed: removed, pendingPartitions: pending.descriptions)
    }

    /// The table's partitions in state `copied`: each described with where it is now, and
    /// their files.
    private func pendingPartitions(of queue: QueueTable, on connection: Connection) throws -> (descriptions: [String], files: [String: String]) {
        let partitions = QualifiedName(schema: config.schema, name: "archive_partitions").quoted
        let batches = QualifiedName(schema: config.schema, name: "archive_batches").quoted
        var descriptions: [String] = []
        var files: [String: String] = [:]
        for row in try connection.query(
            """
            SELECT p.id, p.partition_name, p.row_count,
                   CASE WHEN to_regclass(p.partition_name) IS NULL THEN 'gone'
                        WHEN i.inhrelid IS NULL THEN 'detached'
                        WHEN i.inhdetachpending THEN 'detaching'
                        ELSE 'attached' END AS place,
                   coalesce((SELECT json_agg(b.file) FROM \(batches) b WHERE b.partition_id = p.id), '[]')::text AS files
            FROM \(partitions) p LEFT JOIN pg_inherits i ON i.inhrelid = to_regclass(p.partition_name)
            WHERE p.table_name = $1 AND p.database_system_id = $2 AND p.database_name = $3 AND p.state = 'copied'
            ORDER BY p.id
            """, [queue.name.quoted, queue.database.systemIdentifier, queue.database.name])
        {
            let name = try row.require(String.self, "partition_name")
            let place = try row.require(String.self, "place")
            descriptions.append(
                "partition \(name) (\(try row.require(Int64.self, "row_count")) rows): copied to its files, \(place), not yet dropped; "
                    + "the next archive run finishes it")
            for file in try row.requireJSON([String].self, "files") { files[file] = name }
        }
        return (descriptions, files)
    }
}
