import ArgumentParser
import Foundation
import PGSweep

extension PGSweepRoot {
    /// `pgsweep explain [JOB ...]`.
    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each job's batch SQL and plan; exit 1 when a batch query would not use its index.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Jobs to explain (default: all).")
        var jobs: [String] = []

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let context = try CommandContext(options: global)
            let selected = try jobs.isEmpty ? context.config.jobs : jobs.map { name in
                guard let job = context.config.job(named: name) else { throw ValidationError(context.unknownJobMessage(name)) }
                return job
            }
            let explained = try Explainer(config: context.config, logger: context.logger).explain(selected, on: try context.connect())
            if json {
                try JSONOutput.print(explained)
            } else {
                for job in explained {
                    print("== \(job.job) (\(job.type))")
                    if let note = job.note { print("   \(note)") }
                    for query in job.queries {
                        print("-- \(query.title)")
                        print(query.sql)
                        print("-- plan:")
                        print(query.plan.split(separator: "\n").map { "   \($0)" }.joined(separator: "\n"))
                        let verdict = query.usesIndex
                            ? "ok: uses \(query.indexesUsed.filter(query.expectedIndexes.contains).joined(separator: ", "))"
                            : "PROBLEM: expected \(query.expectedIndexes.joined(separator: " or "))"
                                + (query.sequentialScan ? ", plan has a sequential scan" : "")
                                + (query.indexesUsed.isEmpty ? "" : ", uses \(query.indexesUsed.joined(separator: ", "))")
                        if let note = query.note { print("-- \(note)") }
                        print("-- \(verdict)\n")
                    }
                }
            }
            if !explained.allSatisfy(\.ok) { throw ExitCode(ExitStatus.failure.rawValue) }
        }
    }
}
