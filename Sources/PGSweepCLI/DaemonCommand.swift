import ArgumentParser
import Foundation
import LibPQ
import Logging
import PGSweep

extension PGSweepRoot {
    /// `pgsweep daemon`.
    struct Daemon: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run as a long-lived scheduler until SIGTERM or SIGINT.",
            discussion: """
                Sleeps until the next fire time of any enabled job, runs what is due, repeats. \
                SIGTERM/SIGINT: the current batch commits or rolls back, the run is recorded, exit \
                143/130. SIGHUP re-reads the configuration; an invalid one is logged and the old kept.
                """)

        @OptionGroup var global: GlobalOptions

        func run() throws {
            var context = try CommandContext(options: global)
            let shutdown = Shutdown()
            SignalWatcher.install(shutdown)
            // Fail fast when the database cannot be reached at start; later outages are retried.
            _ = try context.connect()
            context.logger.info("daemon started", metadata: ["jobs": "\(context.config.jobs.count)"])
            var failures = 0
            while !shutdown.isRequested {
                if shutdown.takeReloadRequest() {
                    do {
                        context = try context.reloaded()
                        context.logger.info("configuration reloaded", metadata: ["jobs": "\(context.config.jobs.count)"])
                    } catch {
                        context.logger.error("new configuration refused; keeping the old one", metadata: [LogKey.error: "\(error)"])
                    }
                }
                let runner = JobRunner(config: context.config, logger: context.logger, shutdown: shutdown, connect: context.connect)
                var retryAt: Date?
                do {
                    let summary = try runner.run(context.config.jobs, mode: .due)
                    context.exportMetrics()
                    if let lost = summary.entries.first(where: \.connectionLost) {
                        // The cycle stopped at the lost connection: retry soon, as for an outage.
                        throw PGSweepError.connectionLost("job \(lost.job): \(lost.error ?? "lost the connection to PostgreSQL")")
                    }
                    failures = 0
                } catch {
                    failures += 1
                    let delay = min(300, 5 * pow(2, Double(min(failures, 6))))
                    retryAt = Date().addingTimeInterval(delay)
                    context.logger.error("cycle failed; retrying", metadata: [LogKey.error: "\(error)", "retry_in_s": "\(Int(delay))"])
                }
                if shutdown.isRequested { break }
                let now = Date()
                let next = context.config.jobs.filter(\.enabled)
                    .compactMap { $0.schedule.next(after: now, in: context.config.timeZone) }.min()
                let wake = [next, retryAt].compactMap { $0 }.min() ?? now.addingTimeInterval(3600)
                context.logger.debug("sleeping until the next fire", metadata: ["until": "\(wake)"])
                shutdown.wait(until: wake)
            }
            context.logger.info("daemon stopped")
            throw ExitCode((SignalWatcher.exitStatus(shutdown) ?? .success).rawValue)
        }
    }
}
