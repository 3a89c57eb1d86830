import Foundation
import LibPQ
import Logging

/// The one batch loop every batch job uses.
///
/// Each batch is its own transaction with the job's statement and lock timeouts. The loop
/// stops, always between batches, when a batch comes back short (nothing left), at
/// `max_runtime`, or on a shutdown request. A batch that hits the statement timeout is
/// rolled back and retried at half the size (down to a floor); after fast batches the size
/// grows back. Between batches it pauses `pause`, with ±20% jitter, and waits while a throttle
/// signal is past its limit (`Throttle`).
public struct BatchLoop {
    /// Why the loop stopped.
    public enum Stop: String, Sendable {
        case exhausted, maxRuntime = "max_runtime", shutdown
    }

    public struct Outcome: Sendable {
        public var batches = 0
        public var rows: Int64 = 0
        /// What the batches changed, by action, and the bytes they wrote.
        public var counts = RunCounts()
        public var stop: Stop = .exhausted
    }

    /// The smallest batch the loop shrinks to before giving up on timeouts.
    public static let minimumBatchSize = 10

    /// Runs `batch` until done; `batch` gets the connection (inside the batch's transaction)
    /// and the batch size, and returns what it changed. With a run to record into
    /// (`context.progress`), each batch's counts are added to the run's row in the batch's
    /// own transaction, so they commit, or not, with its work.
    public static func run(
        _ context: JobContext, _ batch: (Connection, Int) throws -> RunCounts
    ) throws -> Outcome {
        var outcome = Outcome()
        let configured = context.limits.batchSize
        var size = configured
        let clock = context.clock
        let started = clock.now()
        let deadline = started.addingTimeInterval(context.limits.maxRuntime.seconds)
        let timeout = context.statementTimeout
        while true {
            if context.shutdown.isRequested {
                outcome.stop = .shutdown
                break
            }
            if clock.now() >= deadline {
                outcome.stop = .maxRuntime
                break
            }
            switch try context.waitForThrottle(deadline: deadline) {
            case .go: break
            case .shutdown: outcome.stop = .shutdown
            case .deadline: outcome.stop = .maxRuntime
            }
            if outcome.stop != .exhausted { break }
            let walBefore = try context.throttle?.walPosition()
            let batchStart = clock.now()
            var counts: RunCounts
            do {
                counts = try context.connection.transaction { connection in
                    try connection.set(
                        [("statement_timeout", timeout.postgresSetting), ("lock_timeout", context.lockTimeout.postgresSetting)],
                        for: .transaction)
                    var counts = try batch(connection, size)
                    // A batch that found nothing (the one that tells the pass it is done) wrote
                    // no file and changed no row: it is not counted.
                    counts.batches = counts.totalRows > 0 ? 1 : 0
                    try context.progress?.record(counts, on: connection)
                    return counts
                }
            } catch let error as PostgresError where error.sqlState == .queryCanceled {
                if context.shutdown.isRequested {
                    context.logger.info("batch cancelled for shutdown and rolled back")
                    outcome.stop = .shutdown
                    break
                }
                guard size > minimumBatchSize else { throw error }
                size = max(minimumBatchSize, size / 2)
                context.logger.warning(
                    "batch hit the statement timeout; retrying smaller",
                    metadata: [LogKey.batchSize: "\(size)", LogKey.statementTimeout: "\(timeout)"])
                continue
            }
            let handled = counts.totalRows
            context.progress?.didCommit(counts)
            context.throttle?.batchCommitted()
            FaultInjection.point("batch-after-commit")
            outcome.batches += counts.batches
            outcome.rows += handled
            outcome.counts = outcome.counts + counts
            context.onBatch?(handled)
            context.logger.debug("batch done", metadata: [LogKey.batchRows: "\(handled)", LogKey.batchSize: "\(size)"])
            if handled < Int64(size) {
                outcome.stop = .exhausted
                break
            }
            try context.throttle?.afterBatch(started: batchStart, walBefore: walBefore, deadline: deadline)
            // Grow back towards the configured size after a batch well inside the timeout.
            if size < configured && clock.now().timeIntervalSince(batchStart) < timeout.seconds / 10 {
                size = min(configured, size * 2)
            }
            if context.limits.pause.milliseconds > 0 {
                let jitter = Double.random(in: 0.8...1.2)
                clock.wait(until: clock.now().addingTimeInterval(context.limits.pause.seconds * jitter), shutdown: context.shutdown)
            }
        }
        return outcome
    }
}

extension BatchLoop {
    /// Runs the batch loop over each pass in turn, adding each batch's counts (by action) and
    /// bytes to `result`, and logging one line per pass. A shutdown or `max_runtime` ends all passes.
    static func runPasses<Pass>(
        _ passes: [Pass], describe: (Pass) -> String, _ context: JobContext, into result: inout JobResult,
        batch: (Pass, Connection, Int) throws -> RunCounts
    ) throws {
        for pass in passes {
            let outcome = try run(context) { connection, size in try batch(pass, connection, size) }
            result.rows.merge(outcome.counts.rows, uniquingKeysWith: +)
            result.bytesWritten += outcome.counts.bytes
            result.batches += outcome.batches
            var metadata: Logger.Metadata = [LogKey.pass: .string(describe(pass)), LogKey.stop: .string(outcome.stop.rawValue)]
            for (action, count) in outcome.counts.rows { metadata[LogKey.rows(action)] = .stringConvertible(count) }
            context.logger.log(level: outcome.rows > 0 ? .info : .debug, "pass done", metadata: metadata)
            if outcome.stop == .shutdown { result.interrupted = true }
            if outcome.stop != .exhausted { return }
        }
    }
}
