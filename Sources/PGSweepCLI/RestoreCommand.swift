import ArgumentParser
import Foundation
import LibPQ
import PGSweep

extension PGSweepRoot {
    /// `pgsweep restore [PATH...] [--flow NAME] [--from T] [--to T] [--into TABLE] [--dry-run]`.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put archived rows back into the table.",
            discussion: """
                Every file is checked first (SHA-256, zstd frames, row count, columns); if any is \
                damaged nothing is inserted (exit 4). Each file is then inserted in its own \
                transaction with ON CONFLICT on the table's key (id, or id and the partition key) DO \
                NOTHING, so restoring twice changes nothing. Without --into, only files of the \
                configured database and table are taken: others found in a folder are skipped and \
                counted, others named outright are refused (exit 2). With --into, every file goes \
                into that table. --from/--to filter on created_at.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Archive files or folders to search, local or s3://bucket/prefix/...; none: the configured destination.")
        var paths: [String] = []

        @Option(help: "Only rows of this flow.")
        var flow: String?

        @Option(help: "Only rows created at or after this time (ISO 8601).")
        var from: String?

        @Option(help: "Only rows created before this time (ISO 8601).")
        var to: String?

        @Option(help: "Insert into this table (same columns) instead of the configured one; takes files of any database or table.")
        var into: String?

        @Flag(help: "Check and count only; insert nothing.")
        var dryRun = false

        @Flag(help: "Rows of a partition the archive dropped, when no partition of the table takes them: create it from the bounds its files recorded.")
        var createPartitions = false

        @Flag(help: "Print JSON.")
        var json = false

        @Flag(help: "Restore the files that are there when some ledgered files are missing from the configured destination (without it: exit 4, nothing restored).")
        var allowMissing = false

        func run() throws {
            let context = try CommandContext(options: global)
            var options = ArchiveRestorer.Options(flow: flow, dryRun: dryRun, createPartitions: createPartitions)
            for (name, value, keyPath) in [("--from", from, \ArchiveRestorer.Options.from), ("--to", to, \.to)] {
                guard let value else { continue }
                guard let date = TimeText.parse(value, zone: context.config.timeZone) else {
                    throw ValidationError("\(name): expected an ISO 8601 time such as 2026-11-01T00:00:00Z, got \(value.debugDescription)")
                }
                options[keyPath: keyPath] = date
            }
            if let from = options.from, let to = options.to, from > to {
                throw ValidationError("--from \(self.from ?? "") is later than --to \(self.to ?? ""): no row could match")
            }
            if let into {
                do { options.into = try QualifiedName(parsing: into) } catch let error as PostgresError {
                    throw ValidationError("--into: \(error.message)")
                }
            }
            let files = try ArchiveRestorer.files(in: paths, storage: context.config.archive, logger: context.logger)
            guard !files.isEmpty else {
                throw ValidationError(
                    "no archive files (*.csv.zst) in \(paths.isEmpty ? context.config.archive.locationDescription : paths.joined(separator: ", "))")
            }
            let connection = try context.connect()
            // The configured table decides whose files are taken; with --into it may not exist yet.
            let own: QueueTable?
            do {
                own = try QueueTable.resolve(context.config.table, on: connection)
            } catch PGSweepError.tableMissing where options.into != nil {
                own = nil
            }
            let scope = own.map(ArchiveScope.init) ?? ArchiveScope(configured: context.config.table, source: nil)
            if paths.isEmpty, let own { try checkLedger(own, files: files, context: context, on: connection) }
            let target = try QueueTable.resolve(options.into ?? context.config.table, on: connection)
            let bar = ProgressBar.onTerminal()
            bar?.start("restore", total: nil)
            let report = try ArchiveRestorer(scope: scope, logger: context.logger)
                .restore(files, options: options, into: target, on: connection, total: { bar?.expect($0) }) { bar?.advance($0) }
            bar?.end()
            let ignored = report.ignored == 0 ? nil
                : "ignored \(report.ignored) file(s) of other databases or tables: without --into only the files of \(scope) are restored"
            let results = report.files
            if json {
                if let ignored { context.logger.info("\(ignored)") }
                try JSONOutput.print(results)
                return
            }
            let table = TextTable(headers: ["file", "rows", "matched", dryRun ? "would insert" : "inserted", "already present"])
            for result in results {
                table.add([result.file, String(result.rowsInFile), String(result.matched), String(result.inserted), String(result.alreadyPresent)])
            }
            print(table.render())
            let inserted = results.map(\.inserted).reduce(0, +)
            let present = results.map(\.alreadyPresent).reduce(0, +)
            print("\(dryRun ? "would insert" : "inserted") \(inserted) rows; \(present) already present; \(results.count) file(s)")
            if let ignored { print(ignored) }
        }

        /// From the configured destination, every file the ledger lists for the table must be
        /// there: a store whose listing drops entries would otherwise restore part of the
        /// archive and say nothing. Missing files are named; without --allow-missing nothing is
        /// restored and the exit status is 4.
        func checkLedger(_ table: QueueTable, files: [ArchiveRestorer.Candidate], context: CommandContext, on connection: Connection) throws {
            let present = Set(files.map(\.key))
            let missing = try ArchiveLedger(schema: context.config.schema).entries(of: table, on: connection)
                .filter { !present.contains($0.file) }
            guard !missing.isEmpty else { return }
            for entry in missing {
                context.logger.error(
                    "a ledgered archive file is missing from the destination",
                    metadata: [LogKey.file: .string(entry.file), LogKey.rows: "\(entry.rows)"])
            }
            let rows = missing.map(\.rows).reduce(0, +)
            guard allowMissing else {
                FileHandle.standardError.write(Data(
                    "pgsweep: \(missing.count) ledgered file(s) with \(rows) rows are missing from \(context.config.archive.locationDescription) (see `archive verify`); nothing was restored. --allow-missing restores the files that are there\n".utf8))
                throw ExitCode(ExitStatus.archiveDamaged.rawValue)
            }
            context.logger.warning(
                "restoring the files that are there; ledgered files are missing",
                metadata: [LogKey.files: "\(missing.count)", LogKey.rows: "\(rows)"])
        }
    }
}
