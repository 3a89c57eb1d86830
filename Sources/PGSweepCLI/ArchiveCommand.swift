import ArgumentParser
import Foundation
import LibPQ
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
                do {
                    connection = try context.connect()
                } catch let error as PostgresError where error.isConnectionLost {
                    context.logger.warning("database not reachable; listing the files alone", metadata: ["error": "\(error)"])
                }
                let inventory = try ArchiveInventory.scan(
                    root: context.config.archive.directory, ledger: ArchiveLedger(schema: context.config.schema),
                    table: context.config.table, connection: connection, deep: false)
                try Self.print(inventory, json: json)
            }

            static func print(_ inventory: ArchiveInventory, json: Bool) throws {
                if json {
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
                Swift.print("\(inventory.items.count) file(s) in \(inventory.root); \(rows) rows in ledgered files")
            }
        }

        /// `pgsweep archive verify [--repair]`.
        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check every ledger row has its file, intact; list leftovers; exit 4 on damage.",
                discussion: """
                    --repair removes leftovers only: files with no ledger row whose rows are all still \
                    in the table (an interrupted run), and temporary files. It holds the archive jobs' \
                    locks while it does, so it never races a running archive.
                    """)

            @OptionGroup var global: GlobalOptions

            @Flag(help: "Remove leftovers of interrupted runs.")
            var repair = false

            @Flag(help: "Print JSON.")
            var json = false

            func run() throws {
                let context = try CommandContext(options: global)
                let connection = try context.connect()
                var locks: [() -> Void] = []
                defer { locks.forEach { $0() } }
                if repair {
                    let names = context.config.jobs.filter { $0.type == .archive }.map(\.name)
                    for name in names.isEmpty ? ["archive"] : names {
                        guard let release = try JobRunner.lockJob(named: name, config: context.config, on: connection) else {
                            throw PGSweepError.checkFailed("archive job \(name) is running; try --repair again when it has finished")
                        }
                        locks.append(release)
                    }
                }
                let inventory = try ArchiveInventory.scan(
                    root: context.config.archive.directory, ledger: ArchiveLedger(schema: context.config.schema),
                    table: context.config.table, connection: connection, deep: true)
                try List.print(inventory, json: json)
                if repair {
                    let removed = try inventory.removeLeftovers()
                    Swift.print(removed.isEmpty ? "repair: no leftovers" : "repair: removed \(removed.count) leftover(s)")
                }
                if inventory.hasDamage { throw ExitCode(ExitStatus.archiveDamaged.rawValue) }
            }
        }
    }
}
