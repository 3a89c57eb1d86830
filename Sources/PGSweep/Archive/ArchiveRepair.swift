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
        let inventory = try ArchiveInventory.scan(
            store: store, scope: ArchiveScope(queue), ledger: ArchiveLedger(schema: config.schema), queue: queue,
            connection: connection, deep: true)
        let removed = repair ? try inventory.removeLeftovers(from: store) : []
        if !removed.isEmpty {
            logger.info("removed leftovers of interrupted runs", metadata: [LogKey.removed: .array(removed.map { .string($0) })])
        }
        return Outcome(inventory: inventory, removed: removed)
    }
}
