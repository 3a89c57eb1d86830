import Foundation
import LibPQ
import Logging

/// The one batch loop every batch job uses.
///
/// Each batch is its own transaction with the job's statement and lock timeouts. The loop
/// stops, always between batches, when a batch comes back short (nothing left), at
/// `max_runtime`, or on a shutdown request. A batch that hits the statement timeout is
/// rolled back and retried at half the size (down to a floor); after fast batches the size
/// grows back. Between batches it pauses `pause`, with ±20% jitter.
public struct BatchLoop {
    /// Why the loop stopped.
    public enum Stop: String, Sendable {
        case exhausted, maxRuntime = "max_runtime", shutdown
    }

    public struct Outcome: Sendable {
        public var batches = 0
        public var rows: Int64 = 0
        public var stop: Stop = .exhausted
    }

    /// The smallest batch the loop shrinks to before giving up on timeouts.
    public static let minimumBatchSize = 10

    /// Runs `batch` until done; `batch` gets the connection (inside the batch's transaction)
    /// and the batch size, and returns how many rows it handled.
    public static func run(
        _ context: JobContext, _ batch: (Connection, Int) throws -> Int64
    ) throws -> Outcome {
        var outcome = Outcome()
        let configured = context.limits.batchSize
        var size = configured
        let started = Date()
        let deadline = started.addingTimeInterval(context.limits.maxRuntime.seconds)
        let timeout = context.statementTimeout
        while true {
            if context.shutdown.isRequested {
                outcome.stop = .shutdown
                break
            }
            if Date() >= deadline {
                outcome.stop = .maxRuntime
                break
            }
            let batchStart = Date()
            let handled: Int64
            do {
                handled = try context.connection.transaction { connection in
                    try connection.execute(
                        "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)",
                        [timeout.postgresSetting, context.lockTimeout.postgresSetting])
                    return try batch(connection, size)
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
                    metadata: ["batch.size": "\(size)", "statement_timeout": "\(timeout)"])
                continue
            }
            FaultInjection.point("batch-after-commit")
            outcome.batches += 1
            outcome.rows += handled
            context.onBatch?(handled)
            context.logger.debug("batch done", metadata: ["batch.rows": "\(handled)", "batch.size": "\(size)"])
            if handled < Int64(size) {
                outcome.stop = .exhausted
                break
            }
            // Grow back towards the configured size after a batch well inside the timeout.
            if size < configured && Date().timeIntervalSince(batchStart) < timeout.seconds / 10 {
                size = min(configured, size * 2)
            }
            if context.limits.pause.milliseconds > 0 {
                let jitter = Double.random(in: 0.8...1.2)
                context.shutdown.wait(until: Date().addingTimeInterval(context.limits.pause.seconds * jitter))
            }
        }
        return outcome
    }
}

extension BatchLoop {
    /// Runs the batch loop over each pass in turn, adding each batch's counts (by action) to
    /// `result`, and logging one line per pass. A shutdown or `max_runtime` ends all passes.
    static func runPasses<Pass>(
        _ passes: [Pass], describe: (Pass) -> String, _ context: JobContext, into result: inout JobResult,
        batch: (Pass, Connection, Int) throws -> [String: Int64]
    ) throws {
        for pass in passes {
            var counts: [String: Int64] = [:]
            let outcome = try run(context) { connection, size in
                let handled = try batch(pass, connection, size)
                counts.merge(handled, uniquingKeysWith: +)
                return handled.values.reduce(0, +)
            }
            result.rows.merge(counts, uniquingKeysWith: +)
            result.batches += outcome.batches
            var metadata: Logger.Metadata = ["pass": .string(describe(pass)), "stop": .string(outcome.stop.rawValue)]
            for (action, count) in counts { metadata["rows.\(action)"] = .stringConvertible(count) }
            context.logger.info("pass done", metadata: metadata)
            if outcome.stop == .shutdown { result.interrupted = true }
            if outcome.stop != .exhausted { return }
        }
    }
}

