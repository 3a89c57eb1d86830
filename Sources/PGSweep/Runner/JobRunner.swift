import Foundation
import LibPQ
import Logging

/// Receives progress of job runs.
public protocol JobObserver: Sendable {
    /// A callback for each committed batch of `job` (rows handled), or nil.
    func onBatch(_ job: JobDefinition) -> (@Sendable (Int64) -> Void)?
    /// A callback for the total rows `job` expects to handle (and whether the figure is only
    /// an estimate), or nil.
    func onEstimate(_ job: JobDefinition) -> (@Sendable (_ rows: Int64, _ estimated: Bool) -> Void)?
    /// Called when `job` has finished.
    func finished(_ job: JobDefinition)
}

/// Runs jobs: decides what is due, takes each job's lock, records every run in `job_runs`.
public struct JobRunner {
    /// Which jobs to consider and how.
    public enum Mode: Sendable {
        /// Run these jobs now, whatever their schedule.
        case now
        /// Run the jobs whose latest fire time has no run recorded yet.
        case due
    }

    public let config: PGSweepConfig
    public let logger: Logger
    public let shutdown: Shutdown
    /// Opens a connection with the configured timeouts.
    public let connect: () throws -> Connection
    /// Watches job progress (a progress bar on a terminal); nil for none.
    public var observer: (any JobObserver)?
    /// Where runs get the time and wait. Defaults to the system clock, whose reference time
    /// (what is due, what thresholds count from) is the database's.
    public var clock: any Clock = SystemClock()

    public init(config: PGSweepConfig, logger: Logger, shutdown: Shutdown, connect: @escaping () throws -> Connection) {
        self.config = config
        self.logger = logger
        self.shutdown = shutdown
        self.connect = connect
    }

    /// Runs `jobs` in order; a failing job does not stop the others, but a lost connection
    /// ends the run (the summary's exit status is then 3).
    ///
    /// With `dryRun`, each job runs in a READ ONLY transaction and nothing is recorded.
    public func run(_ jobs: [JobDefinition], mode: Mode, dryRun: Bool = false) throws -> RunSummary {
        let control = try connect()
        let work = try connect()
        let queue = try QueueTable.resolve(config.table, on: control)
        try SchemaManager(table: config.table, schema: config.schema, logger: logger).requireCurrent(on: control)
        let store = RunStore(connection: control, schema: config.schema, tableKey: queue.name.quoted)
        var summary = RunSummary()
        // A standby cannot change rows, ANALYZE, REINDEX or record a run: a scheduler pointed at
        // a service that failed over skips every job, and nobody is paged.
        if try control.query("SELECT pg_is_in_recovery() AS standby")[0].require(Bool.self, "standby") {
            let reason = "the server is a standby (in recovery); maintenance runs on the primary"
            for job in jobs {
                logger.info("job skipped", metadata: [LogKey.job: .string(job.name), LogKey.reason: .string(reason)])
                summary.entries.append(.init(job: job.name, status: .skipped, runID: nil, result: .init(), error: reason, duration: 0))
            }
            return summary
        }
        if !dryRun { try clearLeftovers(store: store, work: work, queue: queue) }
        for job in jobs {
            if shutdown.isRequested { break }
            if let entry = try runOne(job, mode: mode, dryRun: dryRun, store: store, work: work, queue: queue) {
                summary.entries.append(entry)
                if entry.connectionLost { return summary }
            }
        }
        if !dryRun {
            let pruned = try store.prune(before: try clock.reference(on: control).addingTimeInterval(-config.historyRetention.seconds))
            if pruned > 0 { logger.info("pruned old runs", metadata: [LogKey.runsPruned: "\(pruned)"]) }
        }
        return summary
    }

    private func runOne(
        _ job: JobDefinition, mode: Mode, dryRun: Bool, store: RunStore, work: Connection, queue: QueueTable
    ) throws -> RunSummary.Entry? {
        let now = try clock.reference(on: store.connection)
        var fire: Date?
        if case .due = mode {
            guard job.enabled, let latest = job.schedule.previous(atOrBefore: now, in: config.timeZone) else { return nil }
            fire = latest
            let late = now.timeIntervalSince(latest)
            if late > job.limits.startingDeadline.seconds {
                // Too late to run: record the miss once.
                guard try !store.hasRun(job: job.name, scheduledFor: latest, statuses: RunStatus.allCases) else { return nil }
                let reason = "missed fire time \(PostgresTimestamp.format(latest)) by \(Int(late))s, more than starting_deadline \(job.limits.startingDeadline)"
                let id = dryRun ? nil : try store.recordSkipped(job: job, scheduledFor: latest, reason: reason)
                logger.warning("job skipped", metadata: [LogKey.job: .string(job.name), LogKey.error: .string(reason)])
                return .init(job: job.name, status: .skipped, runID: id, result: .init(), error: reason, duration: 0)
            }
            // Already done? A run still going is left to the lock below, so a runner that
            // loses the race records itself as skipped.
            guard try !store.hasRun(job: job.name, scheduledFor: latest, statuses: RunStatus.ran) else {
                return nil
            }
        }
        if dryRun { return runDry(job, work: work, now: now, queue: queue) }

        let lock = JobLock(schema: config.schema, table: queue.name, job: job.name)
        guard try lock.tryAcquire(on: work) else {
            let reason = "another runner holds this job"
            let id = try store.recordSkipped(job: job, scheduledFor: fire, reason: reason)
            logger.info("job skipped", metadata: [LogKey.job: .string(job.name), LogKey.runID: "\(id)", LogKey.reason: .string(reason)])
            return .init(job: job.name, status: .skipped, runID: id, result: .init(), error: reason, duration: 0)
        }
        defer { lock.release(on: work) }
        let interrupted = try store.markInterrupted(job: job.name)
        if interrupted > 0 {
            logger.warning("marked runs left running by a stopped runner as interrupted",
                           metadata: [LogKey.job: .string(job.name), LogKey.runs: "\(interrupted)"])
        }
        if let fire, try store.hasRun(job: job.name, scheduledFor: fire, statuses: RunStatus.ran) {
            // Another runner ran this fire while we were deciding.
            let reason = "already ran for fire time \(PostgresTimestamp.format(fire))"
            let id = try store.recordSkipped(job: job, scheduledFor: fire, reason: reason)
            return .init(job: job.name, status: .skipped, runID: id, result: .init(), error: reason, duration: 0)
        }

        let runID = try store.begin(job: job, scheduledFor: fire)
        var jobLogger = logger
        jobLogger[metadataKey: LogKey.job] = .string(job.name)
        jobLogger[metadataKey: LogKey.runID] = .stringConvertible(runID)
        jobLogger.info("job started", metadata: [LogKey.jobType: .string(job.type.rawValue)])
        let started = clock.now()
        var result = JobResult()
        var status = RunStatus.succeeded
        var failure: (any Error)?
        let progress = RunProgress(runID: runID, schema: config.schema)
        let throttle = job.limits.throttle.isEnabled
            ? Throttle(settings: job.limits.throttle, connection: work, clock: clock, shutdown: shutdown, logger: jobLogger) : nil
        do {
            let maintenance = job.job(config: config)
            try Self.requireColumns(of: maintenance, in: queue)
            var context = context(job, work: work, logger: jobLogger, now: now, dryRun: false, runID: runID, queue: queue)
            context.progress = progress
            context.throttle = throttle
            result = try maintenance.run(context)
            if result.interrupted { status = .interrupted }
        } catch {
            work.rollbackQuietly()
            status = shutdown.isRequested ? .interrupted : .failed
            failure = error
        }
        // Held by a throttle from its start to max_runtime, nothing done: said as such, never
        // as an idle success (a limit the server cannot meet would otherwise go unseen).
        if status == .succeeded, let endedBy = throttle?.endedBy, progress.committed.batches == 0, result.batches == 0 {
            status = .throttled
            result.details["throttled"] = "held by \(endedBy) from its start until max_runtime; no batch ran"
        }
        observer?.finished(job)
        let errorText = failure.map { "\($0)" }
        let connectionLost = (failure as? PostgresError)?.isConnectionLost ?? false
        let recorded = finish(
            runID, job: job, status: status, error: errorText, details: result.details, store: store, logger: jobLogger,
            throttled: throttle?.seconds ?? [:], endedBy: throttle?.endedBy)
        // The run's row, not this process's memory, says what committed; when the row cannot
        // be reached, what this process saw commit.
        let counts = recorded ?? progress.committed
        result.rows = counts.rows
        result.bytesWritten = counts.bytes
        result.batches = counts.batches
        let duration = clock.now().timeIntervalSince(started)
        logSummary(jobLogger, status: status, result: result, error: errorText, duration: duration)
        return .init(
            job: job.name, status: status, runID: runID, result: result, error: errorText, duration: duration,
            connectionLost: connectionLost)
    }

    /// What stopped runners left, cleared by whichever runner comes next, whatever jobs it
    /// runs: `running` rows of any job whose lock is free (its runner is gone) are marked
    /// interrupted, and partitions an interrupted archive run left frozen are unfrozen (while
    /// frozen, every insert or update into them fails).
    private func clearLeftovers(store: RunStore, work: Connection, queue: QueueTable) throws {
        for name in try store.jobsRunning() {
            let lock = JobLock(schema: config.schema, table: queue.name, job: name)
            guard try lock.tryAcquire(on: work) else { continue }
            defer { lock.release(on: work) }
            let interrupted = try store.markInterrupted(job: name)
            if interrupted > 0 {
                logger.warning(
                    "marked runs left running by a stopped runner as interrupted", metadata: [LogKey.job: .string(name), LogKey.runs: "\(interrupted)"])
            }
        }
        _ = try PartitionFreezes(queue: queue, schema: config.schema)
            .clearStale(lockTimeout: config.database.lockTimeout, logger: logger, on: work)
    }

    /// Refuses a run on a table that lacks columns the job needs, before it touches anything.
    static func requireColumns(of job: any MaintenanceJob, in queue: QueueTable) throws {
        let missing = queue.missing(job.requiredColumns)
        guard missing.isEmpty else {
            throw PGSweepError.missingColumns(job: job.definition.name, table: queue.name.description, columns: missing)
        }
    }

    private func runDry(_ job: JobDefinition, work: Connection, now: Date, queue: QueueTable) -> RunSummary.Entry {
        var jobLogger = logger
        jobLogger[metadataKey: LogKey.job] = .string(job.name)
        let started = clock.now()
        do {
            // Whether the job would start throttled, read before the READ ONLY transaction.
            var throttledBy: ThrottleReading?
            if job.limits.throttle.isEnabled {
                throttledBy = try ThrottleSignals(settings: job.limits.throttle).read(on: work).over
            }
            var result = try work.transaction(.readOnly) { connection in
                let maintenance = job.job(config: config)
                try Self.requireColumns(of: maintenance, in: queue)
                return try maintenance.run(context(job, work: connection, logger: jobLogger, now: now, dryRun: true, runID: 0, queue: queue))
            }
            if let throttledBy {
                result.details["would_start_throttled_by"] = "\(throttledBy.signal): \(throttledBy.value) (limit \(throttledBy.limit))"
                jobLogger.info(
                    "would start throttled",
                    metadata: [LogKey.signal: .string(throttledBy.signal), LogKey.value: .string(throttledBy.value), LogKey.limit: .string(throttledBy.limit)])
            }
            logSummary(jobLogger, status: .succeeded, result: result, error: nil, duration: clock.now().timeIntervalSince(started), dryRun: true)
            return .init(job: job.name, status: .succeeded, runID: nil, result: result, error: nil, duration: clock.now().timeIntervalSince(started))
        } catch {
            logSummary(jobLogger, status: .failed, result: .init(), error: "\(error)", duration: clock.now().timeIntervalSince(started), dryRun: true)
            return .init(
                job: job.name, status: .failed, runID: nil, result: .init(), error: "\(error)", duration: 0,
                connectionLost: (error as? PostgresError)?.isConnectionLost ?? false)
        }
    }

    private func context(
        _ job: JobDefinition, work: Connection, logger: Logger, now: Date, dryRun: Bool, runID: Int64, queue: QueueTable
    ) -> JobContext {
        var context = JobContext(
            connection: work, logger: logger, table: config.table, limits: job.limits,
            statementTimeout: job.limits.statementTimeout ?? config.database.statementTimeout,
            lockTimeout: job.limits.lockTimeout ?? config.database.lockTimeout,
            dryRun: dryRun, shutdown: shutdown, startedAt: now)
        context.runID = runID
        context.resolvedTable = queue
        context.clock = clock
        context.onBatch = observer?.onBatch(job)
        context.onEstimate = observer?.onEstimate(job)
        if !dryRun {
            context.connect = { [config, logger] in try config.connect(logger: logger) }
        }
        return context
    }
}
