import Foundation
import LibPQ
import Logging

/// Pauses a job between batches while any throttle signal is past its limit, and after each
/// batch for `nice_ratio` and `max_wal_rate`; counts the time paused, by signal.
///
/// Used by one job run on its own thread.
final class Throttle {
    let settings: ThrottleSettings
    private let connection: Connection
    private let clock: any Clock
    private let shutdown: Shutdown
    private let logger: Logger
    private var cached: (at: Date, snapshot: ThrottleSignals.Snapshot)?
    private var warned = Set<String>()
    /// Seconds paused, by signal.
    private(set) var seconds: [String: Double] = [:]
    /// The signal the run was paused by when it reached `max_runtime`.
    var endedBy: String?
    /// WAL written by the run's batches, and when the first began.
    private var wal: (bytes: Double, since: Date)?

    init(settings: ThrottleSettings, connection: Connection, clock: any Clock, shutdown: Shutdown, logger: Logger) {
        self.settings = settings
        self.connection = connection
        self.clock = clock
        self.shutdown = shutdown
        self.logger = logger
    }

    /// Seconds paused in all.
    var total: Double { seconds.values.reduce(0, +) }

    /// The signals now: read afresh after a batch has committed (its WAL moves them), else at
    /// most once per `check_interval`.
    func snapshot() throws -> ThrottleSignals.Snapshot {
        let now = clock.now()
        if let cached, now.timeIntervalSince(cached.at) < settings.checkInterval.seconds { return cached.snapshot }
        let snapshot = try ThrottleSignals(settings: settings).read(on: connection)
        for (signal, reason) in snapshot.unreadable where warned.insert(signal).inserted {
            logger.warning("a throttle signal cannot be read; it is ignored", metadata: [LogKey.signal: .string(signal), LogKey.reason: .string(reason)])
        }
        cached = (now, snapshot)
        return snapshot
    }

    /// How a wait ended.
    enum Outcome: Equatable {
        /// Nothing over its limit: go on.
        case go
        /// `deadline` came while paused, by `signal`.
        case deadline(signal: String)
        case shutdown
    }

    /// Before a batch: waits, re-checking every `check_interval`, while a signal is past its
    /// limit. SIGTERM ends the wait at once.
    func waitWhileOver(deadline: Date) throws -> Outcome {
        guard var over = try snapshot().over else { return .go }
        let started = clock.now()
        logger.info("throttling", metadata: [LogKey.signal: .string(over.signal), LogKey.value: .string(over.value), LogKey.limit: .string(over.limit)])
        defer {
            logger.info("throttling ended", metadata: [LogKey.signal: .string(over.signal), LogKey.seconds: .stringConvertible(round(clock.now().timeIntervalSince(started) * 10) / 10)])
        }
        while true {
            let checkpoint = clock.now()
            let next = min(deadline, checkpoint.addingTimeInterval(settings.checkInterval.seconds))
            clock.wait(until: next, shutdown: shutdown)
            seconds[over.signal, default: 0] += clock.now().timeIntervalSince(checkpoint)
            if shutdown.isRequested { return .shutdown }
            if clock.now() >= deadline { return .deadline(signal: over.signal) }
            cached = nil  // the wait was for a fresh look
            guard let still = try snapshot().over else { return .go }
            over = still
        }
    }

    /// A batch committed: the signals it moved are read afresh before the next.
    func batchCommitted() { cached = nil }

    /// The WAL position now, when `max_wal_rate` needs it.
    func walPosition() throws -> String? {
        guard settings.maxWalRate != nil else { return nil }
        return try connection.query("SELECT pg_current_wal_lsn()::text AS lsn")[0].require(String.self, "lsn")
    }

    /// After a committed batch that began at `started` (WAL position `walBefore`): sleeps
    /// `nice_ratio` × its duration, and long enough to bring the run's WAL rate under
    /// `max_wal_rate`, never past `deadline`.
    func afterBatch(started: Date, walBefore: String?, deadline: Date) throws {
        let now = clock.now()
        if settings.niceRatio > 0 {
            sleep(until: min(deadline, now.addingTimeInterval(now.timeIntervalSince(started) * settings.niceRatio)), signal: "nice_ratio")
        }
        if let cap = settings.maxWalRate, let walBefore {
            let written = try connection.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 AS bytes", [walBefore])[0]
                .require(Double.self, "bytes")
            var total = wal ?? (0, started)
            total.bytes += written
            wal = total
            // At the cap, `bytes` take bytes / cap seconds from the first batch's start.
            let due = total.since.addingTimeInterval(total.bytes / Double(cap))
            if due > clock.now() { sleep(until: min(deadline, due), signal: "wal_rate") }
        }
    }

    private func sleep(until date: Date, signal: String) {
        let from = clock.now()
        guard date > from else { return }
        clock.wait(until: date, shutdown: shutdown)
        seconds[signal, default: 0] += clock.now().timeIntervalSince(from)
    }
}

extension JobContext {
    /// Waits while a throttle signal is past its limit, before work that is not a batch (an
    /// index rebuild, an ANALYZE). Returns why it stopped waiting; `.go` at once without a
    /// throttle or in a dry run. A wait that reaches `deadline` is recorded as ending the run.
    func waitForThrottle(deadline: Date) throws -> Throttle.Outcome {
        guard !dryRun, let throttle else { return .go }
        let outcome = try throttle.waitWhileOver(deadline: deadline)
        if case .deadline(let signal) = outcome { throttle.endedBy = signal }
        return outcome
    }
}
