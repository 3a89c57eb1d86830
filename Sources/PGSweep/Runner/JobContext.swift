import Foundation
import LibPQ
import Logging

/// What a job needs while it runs.
public struct JobContext {
    /// The connection the job works on (it holds the job's lock).
    public let connection: Connection
    /// A logger carrying `job` and `run_id`.
    public let logger: Logger
    /// The work-queue table, as configured.
    public let table: QualifiedName
    /// The table as the database knows it; when nil, `queue()` reads it.
    public var resolvedTable: QueueTable? = nil
    /// Limits with the statement and lock timeouts resolved.
    public let limits: JobLimits
    public let statementTimeout: ConfigDuration
    public let lockTimeout: ConfigDuration
    /// True for `--dry-run`: change nothing, report what would change.
    public let dryRun: Bool
    public let shutdown: Shutdown
    /// The database's time when the run started; thresholds count back from it.
    public let startedAt: Date
    /// The run's id in `job_runs` (0 for a dry run).
    public var runID: Int64 = 0
    /// Called after each committed batch with the rows it handled (progress display, tests).
    public var onBatch: (@Sendable (Int64) -> Void)? = nil
    /// Called once with the rows a run will handle, when the job can tell, and whether the
    /// figure is only the planner's estimate.
    public var onEstimate: (@Sendable (_ rows: Int64, _ estimated: Bool) -> Void)? = nil
    /// Where committed work is counted: the run's row in `job_runs` (nil for dry runs).
    var progress: RunProgress? = nil
    /// Where the job gets the time and waits (pauses between batches). Defaults to the system clock.
    public var clock: any Clock = SystemClock()
    /// Pauses the job while a throttle signal is past its limit (nil: no signal configured, or a dry run).
    var throttle: Throttle? = nil
    /// Opens another connection to the job's database, for work beside the job's own (nil
    /// where none may be opened).
    public var connect: (@Sendable () throws -> Connection)? = nil

    /// The table as the database knows it.
    public func queue() throws -> QueueTable {
        try resolvedTable ?? QueueTable.resolve(table, on: connection)
    }
}

/// What a job run did.
public struct JobResult: Sendable {
    /// Rows changed, by action (`reclaimed`, `failed`, `reset`, `archived`...).
    public var rows: [String: Int64] = [:]
    public var bytesWritten: Int64 = 0
    public var batches: Int = 0
    /// True when a shutdown request stopped the job before it finished its work.
    public var interrupted = false
    /// What the job saw and decided, stored in `job_runs.details` and logged.
    public var details: [String: String] = [:]

    public init() {}

    public var totalRows: Int64 { rows.values.reduce(0, +) }
}

/// A kind of maintenance job: given a context, it does one run.
public protocol MaintenanceJob {
    var definition: JobDefinition { get }
    /// The table's columns a run reads or writes; a run on a table without them is refused.
    var requiredColumns: [String] { get }
    /// What `explain` says of a job with no batch query to plan.
    var explainNote: String { get }
    func run(_ context: JobContext) throws -> JobResult
}

extension MaintenanceJob {
    var explainNote: String { "no batch query to plan" }
}
