import ArgumentParser
import Foundation
import PGSweep

extension PGSweepRoot {
    /// `pgsweep metrics`.
    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every metric of the table (job counters and queue gauges) in the Prometheus text format.")

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let context = try CommandContext(options: global)
            print(try MetricsExporter.exposition(config: context.config, logger: context.logger, on: try context.connect()), terminator: "")
        }
    }
}
