import ArgumentParser
import Foundation
import PGSweep

extension PGSweepRoot {
    /// `pgsweep run [JOB ...] [--due] [--all] [--dry-run]`.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run jobs once: the named ones, the due ones, or all.",
            discussion: """
                --due runs each enabled job whose latest fire time has no run recorded yet (the \
                command a CronJob or timer calls every few minutes). A job another runner holds \
                is recorded as skipped and counts as success.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Jobs to run, by name.")
        var jobs: [String] = []

        @Flag(help: "Run the jobs that are due.")
        var due = false

        @Flag(help: "Run every job.")
        var all = false

        @Flag(help: "Change nothing: report what each job would touch, in a READ ONLY transaction.")
        var dryRun = false

        func validate() throws {
            let chosen = [!jobs.isEmpty, due, all].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("name the jobs to run, or give --due or --all (one of the three)") }
        }

        func run() throws {
            let context = try CommandContext(options: global)
            let selected: [JobDefinition]
            if all || due {
                selected = context.config.jobs
            } else {
                selected = try jobs.map { name in
                    guard let job = context.config.job(named: name) else {
                        throw ValidationError(context.unknownJobMessage(name))
                    }
                    return job
                }
            }
            let shutdown = Shutdown()
            SignalWatcher.install(shutdown)
            var runner = JobRunner(config: context.config, logger: context.logger, shutdown: shutdown, connect: context.connect)
            runner.observer = ProgressBar.onTerminal()
            let summary = try runner.run(selected, mode: due ? .due : .now, dryRun: dryRun)
            if !dryRun { context.exportMetrics() }
            if let status = SignalWatcher.exitStatus(shutdown) { throw ExitCode(status.rawValue) }
            if let lost = summary.entries.first(where: \.connectionLost) {
                throw PGSweepError.connectionLost("job \(lost.job): \(lost.error ?? "lost the connection to PostgreSQL")")
            }
            throw ExitCode(summary.exitStatus.rawValue)
        }
    }
}
