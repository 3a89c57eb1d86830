import ArgumentParser
import Foundation
import PGSweep

extension PGSweepRoot {
    /// `pgsweep status [--flow NAME] [--json]`.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue health: counts per flow and status, oldest pending age, orphans, retries, last runs.")

        @OptionGroup var global: GlobalOptions

        @Option(help: "Only this flow.")
        var flow: String?

        @Flag(help: "Print JSON.")
        var json = false

        @Flag(help: "Count every row of each flow and status (by default, counts above \(QueueStatus.exactCountLimit) rows are the planner's estimates, marked ~).")
        var exact = false

        @Flag(help: "Also measure each index of the table: size, bloat (pgstatindex, else an estimate), valid.")
        var indexes = false

        @Flag(help: "With --indexes: use the statistical estimate even where pgstattuple is installed.")
        var estimate = false

        func run() throws {
            let context = try CommandContext(options: global)
            let connection = try context.connect()
            var status = try QueueStatus.read(
                config: context.config, flow: flow, exactUpTo: exact ? nil : QueueStatus.exactCountLimit, on: connection)
            if indexes { status.indexes = try IndexBloat.measure(table: context.config.table, on: connection, preferEstimate: estimate) }
            if json {
                try JSONOutput.print(status)
                return
            }
            print("\(status.table) at \(TextTable.time(status.at))")
            let flows = TextTable(headers: [
                "flow", "pending", "processing", "completed", "failed", "oldest pending", "orphans", "retryable", "retries used up",
            ])
            var totals = [Int64](repeating: 0, count: 7)
            var estimatedTotals = Set<String>()
            /// A count, `~` marking the planner's estimate.
            func shown(_ count: Int64, _ estimated: Bool) -> String { estimated ? "~\(count)" : String(count) }
            for flow in status.flows {
                let counts = QueueStatus.statuses.map { flow.counts[$0] ?? 0 }
                let values = counts + [flow.orphans, flow.failedRetryable, flow.failedRetriesUsedUp]
                for (index, value) in values.enumerated() { totals[index] += value }
                estimatedTotals.formUnion(flow.estimated)
                flows.add(
                    [flow.flow] + zip(QueueStatus.statuses, counts).map { shown($1, flow.estimated.contains($0)) }
                        + [Self.age(flow.oldestPendingAgeSeconds)] + values[4...].map(String.init))
            }
            if status.flows.count > 1 {
                flows.add(
                    ["total"] + QueueStatus.statuses.enumerated().map { shown(totals[$0], estimatedTotals.contains($1)) } + [""]
                        + totals[4...].map(String.init))
            }
            print(flows.render())
            if !estimatedTotals.isEmpty {
                print("(~: more than \(QueueStatus.exactCountLimit) rows, the planner's estimate; --exact counts every row)")
            }
            if let first = status.flows.first {
                print("(orphans: processing and claimed more than \(first.orphanThreshold) ago; retries used up: retry_count >= \(first.maxRetries))")
            }
            if let measured = status.indexes {
                print("\nindexes")
                let table = TextTable(headers: ["index", "size", "bloat", "method", "valid"])
                for index in measured {
                    table.add([
                        index.name, ByteSize.format(index.sizeBytes), index.bloat.map { String(format: "%.0f%%", $0 * 100) } ?? "?",
                        index.method.rawValue, index.valid ? "yes" : "NO",
                    ])
                }
                print(table.render())
            }
            for throttled in status.throttle {
                print("\nthrottle signals (\(throttled.jobs.joined(separator: ", ")))")
                let table = TextTable(headers: ["signal", "now", "limit", "state"])
                for reading in throttled.readings {
                    table.add([reading.signal, reading.value, reading.limit, reading.over ? "THROTTLING" : "ok"])
                }
                for unreadable in throttled.unreadable { table.add([unreadable, "-", "-", "cannot read"]) }
                print(table.render())
            }
            guard !status.lastRuns.isEmpty else { return }
            print("\nlast runs")
            let runs = TextTable(headers: ["job", "status", "started", "duration", "rows", "error"])
            for run in status.lastRuns {
                runs.add([
                    run.job, run.status, TextTable.time(run.startedAt), run.durationSeconds.map { String(format: "%.1fs", $0) } ?? "-",
                    String(run.rows), History.short(run.error),
                ])
            }
            print(runs.render())
        }

        /// `1d 4h`, `3h 12m`, `45s`; `-` when there is nothing pending.
        static func age(_ seconds: Double?) -> String {
            guard let seconds else { return "-" }
            let total = Int(seconds)
            if total >= 86_400 { return "\(total / 86_400)d \(total % 86_400 / 3600)h" }
            if total >= 3600 { return "\(total / 3600)h \(total % 3600 / 60)m" }
            if total >= 60 { return "\(total / 60)m \(total % 60)s" }
            return "\(total)s"
        }
    }
}
