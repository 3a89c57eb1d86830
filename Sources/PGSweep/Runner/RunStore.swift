import Foundation
import LibPQ

/// Reads and writes `job_runs`, the record of every run, for one work-queue table.
///
/// Several tables may share pgsweep's schema: every row names its table (`table_name`, the
/// quoted qualified name), and a job is identified by table and name. Rows from before
/// schema version 2 have no table and match every table.
struct RunStore {
    let connection: Connection
    let schema: String
    /// `table_name` of this table's rows: its quoted, schema-qualified name.
    let tableKey: String

    var table: String { QualifiedName(schema: schema, name: "job_runs").quoted }

    static let host = ProcessInfo.processInfo.hostName

    /// Starts a run: a `running` row. Returns its id.
    func begin(job: JobDefinition, scheduledFor: Date?) throws -> Int64 {
        let rows = try connection.query(
            """
            INSERT INTO \(table) (table_name, job, job_type, scheduled_for, status, host, pid, pgsweep_version)
            VALUES ($1, $2, $3, $4, 'running', $5, $6, $7) RETURNING id
            """,
            [tableKey, job.name, job.type.rawValue, scheduledFor, Self.host, Int(getpid()), PGSweepVersion.current])
        return try rows[0].require(Int64.self, "id")
    }

    /// Ends a run with its final status, error and details, and counts it in the totals.
    /// Returns what its batches recorded (`RunProgress`), which is what really committed.
    /// `throttled` holds the seconds paused by each throttle signal, and `endedBy` the signal
    /// a run stopped under when it reached `max_runtime` while paused.
    func finish(
        id: Int64, job: String, status: RunStatus, error: String?, details: [String: String],
        throttled: [String: Double] = [:], endedBy: String? = nil
    ) throws -> RunCounts {
        let details = try String(data: JSONSerialization.data(withJSONObject: details, options: [.sortedKeys]), encoding: .utf8)
        var by: [String: Any] = throttled.mapValues { ($0 * 1000).rounded() / 1000 }
        if let endedBy { by["ended_by"] = endedBy }
        let throttledBy = try String(data: JSONSerialization.data(withJSONObject: by, options: [.sortedKeys]), encoding: .utf8)
        return try connection.transaction { connection in
            guard let row = try connection.query(
                """
                UPDATE \(table) SET status = $2, finished_at = clock_timestamp(), error = $3, details = $4::jsonb,
                                    throttled_seconds = $5, throttled_by = $6::jsonb
                WHERE id = $1
                RETURNING rows_by_action::text AS rows, bytes_written, batches
                """, [id, status.rawValue, error, details, throttled.values.reduce(0, +), throttledBy]).first
            else {
                throw PGSweepError.checkFailed("run \(id) is no longer in \(table); its end could not be recorded")
            }
            try addRun(job: job, status: status, count: 1, on: connection)
            let totals = QualifiedName(schema: schema, name: "job_throttle_totals").quoted
            for (signal, seconds) in throttled where seconds > 0 {
                try connection.execute(
                    """
                    INSERT INTO \(totals) (table_name, job, signal, seconds) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (table_name, job, signal) DO UPDATE SET seconds = \(totals).seconds + excluded.seconds
                    """, [tableKey, job, signal, seconds])
            }
            return RunCounts(
                rows: try row.requireJSON([String: Int64].self, "rows"), bytes: try row.require(Int64.self, "bytes_written"),
                batches: try row.require(Int.self, "batches"))
        }
    }

    private func addRun(job: String, status: RunStatus, count: Int64, on connection: Connection) throws {
        guard count > 0 else { return }
        let totals = QualifiedName(schema: schema, name: "job_totals").quoted
        try connection.execute(
            """
            INSERT INTO \(totals) (table_name, job, status, runs) VALUES ($1, $2, $3, $4)
            ON CONFLICT (table_name, job, status) DO UPDATE SET runs = \(totals).runs + excluded.runs
            """, [tableKey, job, status.rawValue, count])
    }

    /// Records a run that did not happen, and why.
    @discardableResult
    func recordSkipped(job: JobDefinition, scheduledFor: Date?, reason: String) throws -> Int64 {
        try connection.transaction { connection in
            let rows = try connection.query(
                """
                INSERT INTO \(table) (table_name, job, job_type, scheduled_for, status, finished_at, error, host, pid, pgsweep_version)
                VALUES ($1, $2, $3, $4, 'skipped', clock_timestamp(), $5, $6, $7, $8) RETURNING id
                """,
                [tableKey, job.name, job.type.rawValue, scheduledFor, reason, Self.host, Int(getpid()), PGSweepVersion.current])
            try addRun(job: job.name, status: .skipped, count: 1, on: connection)
            return try rows[0].require(Int64.self, "id")
        }
    }

    /// Marks `running` rows of `job` as interrupted, ending them at their last committed
    /// batch (or their start, when none committed): called while holding the job's lock, so
    /// no live runner can own them.
    func markInterrupted(job: String) throws -> Int64 {
        try connection.transaction { connection in
            let count = try connection.execute(
                """
                UPDATE \(table) SET status = 'interrupted', finished_at = coalesce(last_progress_at, started_at),
                    error = coalesce(error, 'the runner stopped without recording an end (killed or lost its connection)')
                WHERE job = $1 AND status = 'running' AND (table_name = $2 OR table_name IS NULL)
                """, [job, tableKey]).affectedRows
            try addRun(job: job, status: .interrupted, count: count, on: connection)
            return count
        }
    }

    /// The jobs of this table with a `running` row: each either runs now or was left by a
    /// runner that stopped without recording its end.
    func jobsRunning() throws -> [String] {
        try connection.query(
            "SELECT DISTINCT job FROM \(table) WHERE status = 'running' AND (table_name = $1 OR table_name IS NULL) ORDER BY job",
            [tableKey]
        ).map { try $0.require(String.self, "job") }
    }

    /// True when a run with one of `statuses` is recorded for `job` at fire time `scheduledFor`.
    func hasRun(job: String, scheduledFor: Date, statuses: [RunStatus]) throws -> Bool {
        try !connection.query(
            """
            SELECT 1 FROM \(table)
            WHERE job = $1 AND scheduled_for = $2 AND status = ANY($3) AND (table_name = $4 OR table_name IS NULL) LIMIT 1
            """,
            [job, scheduledFor, statuses.map(\.rawValue), tableKey]
        ).isEmpty
    }

    /// Deletes this table's finished runs that started before `cutoff`, in batches. Returns
    /// rows deleted.
    func prune(before cutoff: Date) throws -> Int64 {
        var total: Int64 = 0
        while true {
            let deleted = try connection.execute(
                """
                DELETE FROM \(table) WHERE id IN (
                    SELECT id FROM \(table)
                    WHERE started_at < $1 AND status <> 'running' AND (table_name = $2 OR table_name IS NULL) LIMIT 10000)
                """, [cutoff, tableKey]).affectedRows
            total += deleted
            if deleted < 10000 { return total }
        }
    }
}

/// The states of a run in `job_runs.status`.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, succeeded, failed, skipped, interrupted
    /// Ran, but a throttle signal held it from its start until `max_runtime`: it did nothing.
    /// Not a failure (exit 0, the throttle protected the server), not a success either.
    case throttled

    /// The statuses that mean a run for a fire time took place: it is not run again.
    static let ran: [RunStatus] = [.succeeded, .failed, .interrupted, .throttled]
}
