import ArchiveFormat
import Foundation
import LibPQ
import Logging

/// The archive job's whole-partition path: an old partition whose every row is archivable is
/// copied into archive files, detached and dropped, with no per-row delete.
///
/// Steps, each leaving every row in the table or in ledgered files:
/// 1. **Freeze**: `ADD CONSTRAINT pgsweep_archiving CHECK (false) NOT VALID` on the partition
///    alone (a brief lock, under `lock_timeout`): from then on no row can be inserted into it
///    or updated in it, and no lock is held while it is copied.
/// 2. **Copy**, in one transaction: the partition is checked again to hold only archivable
///    rows (after the freeze, so nothing can change between the check and the copy; a row
///    changed since the survey unfreezes it and its rows go one by one); one COPY of the
///    partition streams its rows into files of `batch_size` rows, each durable and published
///    with its manifest (which records the partition's name and bounds); then one
///    `archive_partitions` row (state `copied`) and the files' ledger rows; commit. The freeze
///    keeps every row as copied (a row deleted meanwhile is only gone).
/// 3. **Detach** and 4. **drop** (`PartitionDropper`): `DETACH PARTITION ... CONCURRENTLY`
///    (PostgreSQL 14 on, no default partition, else a plain `DETACH` under `lock_timeout`),
///    then `DROP` in the transaction that marks the partition `dropped`, once it is still
///    detached and still frozen.
///
/// Two partitions are copied at once, each on a connection of its own, starting as soon as the
/// survey finds the first; detaches and drops run on two more (`PartitionDropQueue`). A run
/// starts by finishing what an earlier one left (`recover`).
struct PartitionArchiver {
    let job: ArchiveJob
    let queue: QueueTable
    let store: any ArchiveStore
    let context: JobContext

    /// Partitions copied at once.
    static let copiesAtOnce = 2

    var connection: Connection { context.connection }
    var logger: Logger { context.logger }
    var dropper: PartitionDropper {
        PartitionDropper(
            queue: queue, schema: job.schema, lockTimeout: context.lockTimeout, statementTimeout: context.statementTimeout,
            logger: logger, shutdown: context.shutdown)
    }

    /// What taking partitions did.
    struct Taken: Sendable {
        var completed: Int64 = 0
        var failed: Int64 = 0
        var bytes: Int64 = 0
        var files = 0

        /// As a run records batches.
        var counts: RunCounts {
            RunCounts(rows: ["archived_completed": completed, "archived_failed": failed], bytes: bytes, batches: files)
        }

        static func + (lhs: Taken, rhs: Taken) -> Taken {
            Taken(completed: lhs.completed + rhs.completed, failed: lhs.failed + rhs.failed, bytes: lhs.bytes + rhs.bytes, files: lhs.files + rhs.files)
        }
    }

    /// Surveys the partitions with `survey` and takes each one it finds whole, the copies
    /// starting while the survey goes on; returns the rows and bytes archived. `batch` numbers
    /// the files (it is advanced past the ones written).
    func run(
        batch: inout Int,
        survey: (_ onWhole: (PartitionSurvey.Entry) throws -> Void) throws -> PartitionSurvey
    ) throws -> Taken {
        let copier = PartitionCopier(
            job: job, queue: queue, lockTimeout: context.lockTimeout, statementTimeout: context.statementTimeout,
            batchSize: context.limits.batchSize, startedAt: context.startedAt, runID: context.runID, logger: logger,
            progress: context.progress)
        let work = PartitionWork(batch: batch)
        var copying: Copying?
        var declined = false
        let found: PartitionSurvey
        do {
            found = try survey { entry in
                if copying == nil && !declined {
                    copying = try start(copier, work: work)
                    declined = copying == nil
                }
                if copying != nil { work.add(entry) }
            }
        } catch {
            work.close()
            if let copying {
                copying.workers.wait()
                _ = try? copying.drops.finish()
            }
            throw error
        }
        work.close()
        for line in found.lines { logger.debug("partition \(line)") }
        guard let copying else { return Taken() }
        copying.workers.wait()
        let dropFailure = Result { try copying.drops.finish() }
        batch = work.batch
        context.progress?.didCommit(work.total.counts)
        if let failure = work.failure { throw failure }
        try dropFailure.get()
        return work.total
    }

    /// The threads taking partitions whole, and the queue of their drops.
    private struct Copying {
        let workers: DispatchGroup
        let drops: PartitionDropQueue
    }

    /// Starts the copying threads, which take partitions from `work` until it is closed; nil
    /// (with a warning) when no partition may be taken whole this run.
    private func start(_ copier: PartitionCopier, work: PartitionWork) throws -> Copying? {
        let dropper = dropper
        guard let connect = context.connect else {
            // Only a run that is recorded (not a dry run) may open more connections.
            logger.warning("no partition taken whole: this run may not open the connections it needs")
            return nil
        }
        // A long transaction on the table would hold up each freeze and detach: leave whole
        // partitions to a later run (this run's rows go one by one). Each partition is checked
        // again before it is frozen, each freeze waits no longer than lock_timeout, and each
        // detach checks again.
        if let holder = try dropper.oldLockHolder(of: [Int64(queue.oid)], on: connection) {
            logger.warning(
                "partition busy: no partition taken whole this run, archivable rows go one by one",
                metadata: [LogKey.reason: .string(holder)])
            return nil
        }
        let drops = PartitionDropQueue(
            dropper: dropper, hasDefault: try PartitionSurvey.hasDefault(queue, on: connection), connect: connect)
        let storage = job.storage
        let logger = logger
        let shutdown = context.shutdown
        let workers = DispatchGroup()
        for _ in 0..<Self.copiesAtOnce {
            workers.enter()
            let thread = Thread {
                do {
                    // Connected at once, while the survey goes on.
                    let connection = try connect()
                    let store = try storage.makeStore(logger: logger)
                    while let entry = work.next(unless: { shutdown.isRequested || drops.stopped }) {
                        guard let copied = try copier.take(entry, store: store, dropper: dropper, batch: work.nextBatch, on: connection)
                        else { continue }
                        work.add(copied.taken)
                        FaultInjection.point("partition-after-commit")
                        try drops.submit(copied.pending)
                    }
                } catch {
                    work.fail(error)
                }
                workers.leave()
            }
            thread.name = "pgsweep-partition-copy"
            thread.start()
        }
        return Copying(workers: workers, drops: drops)
    }
}

/// The partitions to copy, added as the survey finds them, and what the copies did, shared
/// by the copying threads.
final class PartitionWork: @unchecked Sendable {
    // @unchecked Sendable: every field is touched only under `condition`.
    private let condition = NSCondition()
    private var entries: [PartitionSurvey.Entry] = []
    /// True once the survey has added every partition.
    private var closed = false
    private(set) var batch: Int
    private(set) var total = PartitionArchiver.Taken()
    private(set) var failure: (any Error)?

    init(batch: Int) {
        self.batch = batch
    }

    /// Adds a partition to copy.
    func add(_ entry: PartitionSurvey.Entry) {
        condition.withLock {
            entries.append(entry)
            condition.broadcast()
        }
    }

    /// No partition will be added any more.
    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }

    /// The next partition, waiting for the survey to add one; nil when none is left and the
    /// survey is done, a copy failed, or `stop` says so.
    func next(unless stop: () -> Bool) -> PartitionSurvey.Entry? {
        condition.withLock {
            while entries.isEmpty && !closed && failure == nil { condition.wait() }
            guard failure == nil, !entries.isEmpty, !stop() else { return nil }
            return entries.removeFirst()
        }
    }

    /// The next file number of the run.
    func nextBatch() -> Int {
        condition.withLock {
            batch += 1
            return batch
        }
    }

    func add(_ taken: PartitionArchiver.Taken) { condition.withLock { total = total + taken } }

    func fail(_ error: any Error) {
        condition.withLock {
            if failure == nil { failure = error }
            condition.broadcast()
        }
    }
}
