import ArgumentParser
import Foundation
import PGSweep

extension PGSweepRoot {
    /// `pgsweep history [--job NAME] [--limit N] [--json]`.
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show past runs from the run table, newest first.")

        @OptionGroup var global: GlobalOptions

        @Option(help: "Only runs of this job.")
        var job: String?

        @Option(help: "How many runs to show.")
        var limit = 20

        @Flag(help: "Print JSON (errors in full).")
        var json = false

        @Flag(help: "Show each error in full instead of its first 60 characters.")
        var wide = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be a positive integer, got \(limit)") }
        }

        func run() throws {
            let context = try CommandContext(options: global)
            let connection = try context.connect()
            let queue = try QueueTable.resolve(context.config.table, on: connection)
            try context.schemaManager.requireCurrent(on: connection)
            let runs = try RunHistory(schema: context.config.schema).recent(on: connection, queue: queue.name, job: job, limit: limit)
            if json {
                try JSONOutput.print(runs)
                return
            }
            let table = TextTable(headers: ["id", "job", "status", "scheduled for", "started", "duration", "rows", "bytes", "throttled", "error"])
            for run in runs {
                table.add([
                    String(run.id), run.job, run.status.rawValue,
                    run.scheduledFor.map(TextTable.time) ?? "-", TextTable.time(run.startedAt),
                    run.duration.map { String(format: "%.1fs", $0) } ?? "-", String(run.rowsAffected),
                    ByteSize.format(run.bytesWritten), Self.throttled(run),
                    wide ? (run.error ?? "") : Self.short(run.error),
                ])
            }
            print(table.render())
        }

        /// Seconds paused by throttle signals, and the signal a run ended under (`12.0s, ended by replica_lag`).
        static func throttled(_ run: RunHistory.Run) -> String {
            guard run.throttledSeconds > 0 || run.throttledBy["ended_by"] != nil else { return "-" }
            var text = String(format: "%.1fs", run.throttledSeconds)
            if case .signal(let signal)? = run.throttledBy["ended_by"] { text += ", ended by \(signal)" }
            return text
        }

        /// The first 60 characters of an error, with `…` when there is more (`--wide` shows it all).
        static func short(_ error: String?) -> String {
            guard let error else { return "" }
            let line = error.replacingOccurrences(of: "\n", with: " ")
            return line.count > 60 ? String(line.prefix(59)) + "…" : line
        }
    }
}
