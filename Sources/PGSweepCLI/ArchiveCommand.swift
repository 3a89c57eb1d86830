import ArgumentParser
import Foundation
import LibPQ
import Logging
import PGSweep

extension PGSweepRoot {
    /// `pgsweep archive list|verify`.
    struct Archive: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List and verify archive files against the ledger.", subcommands: [List.self, Verify.self])

        /// `pgsweep archive list [--json]`.
        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List archive files (from the files, and from the ledger when the database is reachable).")

            @OptionGroup var global: GlobalOptions

            @Flag(help: "Print JSON.")
            var json = false

            func run() throws {
                let context = try CommandContext(options: global)
                var connection: Connection?
                var queue: QueueTable?
                do {
                    let reached = try context.connect()
                    queue = try QueueTable.resolve(context.config.table, on: reached)
                    connection = reached
                } catch let error as PostgresError where error.isConnectionLost {
                    context.logger.warning(
                        "database not reachable; listing the files alone, of this table in any database", metadata: [LogKey.error: "\(error)"])
                }
                let inventory = try ArchiveInventory.scan(
                    store: try context.config.archive.makeStore(logger: context.logger),
                    scope: queue.map(ArchiveScope.init) ?? ArchiveScope(configured: context.config.table, source: nil),
                    ledger: ArchiveLedger(schema: context.config.schema), queue: queue, connection: connection, deep: false)
                try Self.print(inventory, json: json, logger: context.logger)
            }

            static func print(_ inventory: ArchiveInventory, json: Bool, logger: Logger) throws {
                if json {
                    if let ignored = inventory.ignoredSummary { logger.info("\(ignored)") }
                    try JSONOutput.print(inventory.items)
                    return
                }
                let table = TextTable(headers: ["file", "state", "rows", "bytes", "created from", "created to", "detail"])
                for item in inventory.items {
                    table.add([
                        item.file, item.state.rawValue, item.rows.map(String.init) ?? "-", item.bytes.map { ByteSize.format($0) } ?? "-",
                        item.minCreatedAt ?? "-", item.maxCreatedAt ?? "-", item.detail ?? "",
                    ])
                }
                Swift.print(table.render())
                let rows = inventory.items.filter { $0.state == .ok }.compactMap(\.rows).reduce(0, +)
                Swift.print("\(inventory.items.count) file(s) of \(inventory.scope) in \(inventory.root); \(rows) rows in ledgered files")
                if let ignored = inventory.ignoredSummary { Swift.print(ignored) }
            }
        }

        /// `pgsweep archive verify [--repair]`.
        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check every ledger row has its file, intact; list leftovers; exit 4 on damage.",
                discussion: """
                    --repair removes leftovers only: files of this database and table with no ledger row \
                    whose rows are each still in the table or in a ledgered file (an interrupted run), \
                    and temporary files. It never touches another database's or table's files. It runs \
                    only while no archive of the table runs, from any configuration, and none starts \
                    until it is done.
                    """)

            @OptionGroup var global: GlobalOptions

            @Flag(help: "Remove leftovers of interrupted runs.")
            var repair = false

            @Flag(help: "Print JSON.")
            var json = false

            func run() throws {
                let context = try CommandContext(options: global)
                let outcome = try ArchiveRepair(config: context.config, logger: context.logger).run(repair: repair, on: try context.connect())
                let inventory = outcome.inventory
                try List.print(inventory, json: json, logger: context.logger)
                for partition in outcome.pendingPartitions {
                    if json { context.logger.info("\(partition)") } else { Swift.print(partition) }
                }
                if repair && !json {
                    Swift.print(outcome.removed.isEmpty ? "repair: no leftovers" : "repair: removed \(outcome.removed.count) leftover(s)")
                }
                if inventory.hasDamage { throw ExitCode(ExitStatus.archiveDamaged.rawValue) }
            }
        }
    }
}
