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
            let scope: ArchiveScope
            do {
                scope = ArchiveScope(try QueueTable.resolve(context.config.table, on: connection))
            } catch PGSweepError.tableMissing where options.into != nil {
                scope = ArchiveScope(configured: context.config.table, source: nil)
            }
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
    }
}
