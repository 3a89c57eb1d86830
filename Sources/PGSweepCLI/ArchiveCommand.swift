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
                        "database not reachable; listing the files alone, of this table in any database", metadata: ["error": "\(error)"])
                }
                let inventory = try ArchiveInventory.scan(
                    root: context.config.archive.directory,
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
                    and temporary files. It never touches another database's or table's files. It holds \
                    the archive jobs' locks while it does, so it never races a running archive.
                    """)

            @OptionGroup var global: GlobalOptions

            @Flag(help: "Remove leftovers of interrupted runs.")
            var repair = false

            @Flag(help: "Print JSON.")
            var json = false

            func run() throws {
                let context = try CommandContext(options: global)
                let connection = try context.connect()
                let queue = try QueueTable.resolve(context.config.table, on: connection)
                var locks: [() -> Void] = []
                defer { locks.forEach { $0() } }
                if repair {
                    let names = context.config.jobs.filter { $0.type == .archive }.map(\.name)
                    for name in names.isEmpty ? ["archive"] : names {
                        guard let release = try JobRunner.lockJob(named: name, table: queue, config: context.config, on: connection) else {
                            throw PGSweepError.checkFailed("archive job \(name) is running; try --repair again when it has finished")
                        }
                        locks.append(release)
                    }
                }
                let inventory = try ArchiveInventory.scan(
                    root: context.config.archive.directory, scope: ArchiveScope(queue),
                    ledger: ArchiveLedger(schema: context.config.schema), queue: queue, connection: connection, deep: true)
                try List.print(inventory, json: json, logger: context.logger)
                if repair {
                    let removed = try inventory.removeLeftovers()
                    let line = removed.isEmpty ? "repair: no leftovers" : "repair: removed \(removed.count) leftover(s)"
                    // JSON on stdout stays one document; the outcome goes to the log there.
                    if json {
                        context.logger.info("\(line)", metadata: ["removed": .array(removed.map { .string($0) })])
                    } else {
                        Swift.print(line)
                    }
                }
                if inventory.hasDamage { throw ExitCode(ExitStatus.archiveDamaged.rawValue) }
            }
        }
    }
}
