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

        @Flag(help: "Count every row of each flow and status, however long it takes (by default, counts past \(QueueStatus.exactCountLimit) rows, or past \(QueueStatus.countBudget) per flow, are the planner's estimates, marked ~, or lower bounds, marked >=).")
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
            let keys = QueueStatus.statuses + ["orphans", "retryable", "retries_used_up"]
            var totals = [Int64](repeating: 0, count: keys.count)
            var estimatedTotals = Set<String>()
            var boundTotals = Set<String>()
            /// A count: `~` marks the planner's estimate, `>=` a lower bound (counted up to the cap).
            func shown(_ count: Int64, _ key: String, estimated: Set<String>, atLeast: Set<String>) -> String {
                if estimated.contains(key) { return "~\(count)" }
                return atLeast.contains(key) ? ">=\(count)" : String(count)
            }
            for flow in status.flows {
                let values = QueueStatus.statuses.map { flow.counts[$0] ?? 0 } + [flow.orphans, flow.failedRetryable, flow.failedRetriesUsedUp]
                for (index, value) in values.enumerated() { totals[index] += value }
                estimatedTotals.formUnion(flow.estimated)
                boundTotals.formUnion(flow.atLeast)
                let cells = zip(keys, values).map { shown($1, $0, estimated: Set(flow.estimated), atLeast: Set(flow.atLeast)) }
                flows.add([flow.flow] + cells[..<4] + [Self.age(flow.oldestPendingAgeSeconds)] + cells[4...])
            }
            if status.flows.count > 1 {
                let cells = zip(keys, totals).map { shown($1, $0, estimated: estimatedTotals, atLeast: boundTotals.subtracting(estimatedTotals)) }
                flows.add(["total"] + cells[..<4] + [""] + cells[4...])
            }
            print(flows.render())
            if !estimatedTotals.isEmpty || !boundTotals.isEmpty {
                print("(~: the planner's estimate, >=: at least; past \(QueueStatus.exactCountLimit) rows or \(QueueStatus.countBudget) of counting per flow. --exact counts every row)")
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
