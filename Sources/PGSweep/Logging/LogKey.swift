/// Every key pgsweep writes in structured log lines, in one place.
///
/// The convention: lower-case words joined by `_` (`run_id`, `duration_ms`); a dot groups
/// keys about one subject (`batch.size`, `size.before`, and `rows.<action>`,
/// `detail.<name>` with a name filled in). The database layer adds its own `pg.*` keys to
/// server notices.
public enum LogKey {
    public static let timestamp = "ts"
    public static let level = "level"
    public static let message = "msg"
    public static let job = "job"
    public static let jobType = "job.type"
    public static let jobs = "jobs"
    public static let runID = "run_id"
    public static let runs = "runs"
    public static let runsPruned = "runs.pruned"
    public static let index = "index"
    public static let partition = "partition"
    public static let error = "error"
    public static let reason = "reason"
    public static let status = "status"
    public static let rows = "rows"
    public static let bytes = "bytes"
    public static let batches = "batches"
    public static let durationMilliseconds = "duration_ms"
    public static let dryRun = "dry_run"
    public static let batchRows = "batch.rows"
    public static let batchSize = "batch.size"
    public static let statementTimeout = "statement_timeout"
    public static let pass = "pass"
    public static let stop = "stop"
    public static let file = "file"
    public static let files = "files"
    public static let path = "path"
    public static let removed = "removed"
    public static let rowsInserted = "rows.inserted"
    public static let rowsAlreadyPresent = "rows.already_present"
    public static let sizeBefore = "size.before"
    public static let sizeAfter = "size.after"
    public static let actions = "actions"
    public static let until = "until"
    public static let retryIn = "retry_in_s"
    public static let pushgateway = "pushgateway"
    public static let objectStoreCode = "s3.code"
    public static let objectStoreResource = "s3.resource"
    public static let attempt = "attempt"
    public static let listen = "listen"
    public static let signal = "throttle.signal"
    public static let value = "throttle.value"
    public static let limit = "throttle.limit"
    public static let seconds = "throttle.seconds"
    public static let migrationVersion = "migration.version"

    /// `rows.<action>`: rows a job changed by one action.
    public static func rows(_ action: String) -> String { "rows.\(action)" }
    /// `detail.<name>`: something a job saw or decided.
    public static func detail(_ name: String) -> String { "detail.\(name)" }
}
