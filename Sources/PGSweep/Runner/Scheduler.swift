import Foundation
import LibPQ
import Logging

/// The daemon's loop: sleeps until the next fire time of any enabled job, runs what is due
/// (`JobRunner` in `.due` mode), exports metrics, and repeats until shutdown.
///
/// A database outage (a cycle that throws, or one cut short by a lost connection) is retried
/// with back-off: 10 s, 20 s, 40 s... up to 5 minutes, or sooner when a job fires. A reload
/// request (SIGHUP) reads the configuration again before the next cycle; a configuration
/// that does not load is logged and the old one kept.
public final class Scheduler {
    // Not Sendable: one thread runs it; signals reach it through `shutdown`.
    public private(set) var config: PGSweepConfig
    let logger: Logger
    let shutdown: Shutdown
    let clock: any Clock
    let connect: (PGSweepConfig) throws -> Connection
    let reload: () throws -> PGSweepConfig
    let afterCycle: (PGSweepConfig) -> Void
    /// Cycles in a row that failed; drives the back-off.
    private(set) var failures = 0

    /// A scheduler for `config`. `connect` opens a connection for a configuration;
    /// `reload` reads the configuration again; `afterCycle` runs after each cycle that
    /// reached the database (metrics export).
    public init(
        config: PGSweepConfig, logger: Logger, shutdown: Shutdown, clock: any Clock = SystemClock(),
        connect: @escaping (PGSweepConfig) throws -> Connection, reload: @escaping () throws -> PGSweepConfig,
        afterCycle: @escaping (PGSweepConfig) -> Void = { _ in }
    ) {
        self.config = config
        self.logger = logger
        self.shutdown = shutdown
        self.clock = clock
        self.connect = connect
        self.reload = reload
        self.afterCycle = afterCycle
    }

    /// The wait after `failures` failed cycles in a row: 10 s, doubling, at most 5 minutes.
    public static func backoff(failures: Int) -> TimeInterval {
        min(300, 5 * pow(2, Double(min(max(failures, 1), 6))))
    }

    /// Runs until shutdown is requested. Fails fast, throwing, when the database cannot be
    /// reached at the start; later outages are retried.
    public func run() throws {
        _ = try connect(config)
        logger.info("daemon started", metadata: [LogKey.jobs: "\(config.jobs.count)"])
        while !shutdown.isRequested {
            if shutdown.takeReloadRequest() { reloadConfiguration() }
            let retryAt = cycle()
            if shutdown.isRequested { break }
            let now = clock.now()
            let next = config.jobs.filter(\.enabled).compactMap { $0.schedule.next(after: now, in: config.timeZone) }.min()
            let wake = [next, retryAt].compactMap { $0 }.min() ?? now.addingTimeInterval(3600)
            logger.debug("sleeping until the next fire", metadata: [LogKey.until: "\(wake)"])
            clock.wait(until: wake, shutdown: shutdown)
        }
        logger.info("daemon stopped")
    }

    /// One cycle: the due jobs. Returns when to retry after a failure, nil after success.
    private func cycle() -> Date? {
        let config = self.config
        var runner = JobRunner(config: config, logger: logger, shutdown: shutdown) { [connect] in try connect(config) }
        runner.clock = clock
        do {
            let summary = try runner.run(config.jobs, mode: .due)
            afterCycle(config)
            if let lost = summary.entries.first(where: \.connectionLost) {
                // The cycle stopped at the lost connection: retry soon, as for an outage.
                throw PGSweepError.connectionLost("job \(lost.job): \(lost.error ?? "lost the connection to PostgreSQL")")
            }
            failures = 0
            return nil
        } catch {
            failures += 1
            let delay = Self.backoff(failures: failures)
            logger.error("cycle failed; retrying", metadata: [LogKey.error: "\(error)", LogKey.retryIn: "\(Int(delay))"])
            return clock.now().addingTimeInterval(delay)
        }
    }

    private func reloadConfiguration() {
        do {
            config = try reload()
            logger.info("configuration reloaded", metadata: [LogKey.jobs: "\(config.jobs.count)"])
        } catch {
            logger.error("new configuration refused; keeping the old one", metadata: [LogKey.error: "\(error)"])
        }
    }
}
