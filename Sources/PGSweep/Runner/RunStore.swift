import Foundation
import LibPQ

/// Reads and writes `job_runs`, the record of every run.
struct RunStore {
    let connection: Connection
    let schema: String

    var table: String { QualifiedName(schema: schema, name: "job_runs").quoted }

    static let host = ProcessInfo.processInfo.hostName

    /// Starts a run: a `running` row. Returns its id.
    func begin(job: JobDefinition, scheduledFor: Date?) throws -> Int64 {
        let rows = try connection.query(
            """
            INSERT INTO \(table) (job, job_type, scheduled_for, status, host, pid, pgsweep_version)
            VALUES ($1, $2, $3, 'running', $4, $5, $6) RETURNING id
            """,
            [job.name, job.type.rawValue, scheduledFor, Self.host, Int(getpid()), PGSweepVersion.current])
        return try rows[0].decode(Int64.self, at: 0)!
    }

    /// Ends a run with its final status, counts and error, and adds it to the totals.
    func finish(id: Int64, job: String, status: RunStatus, result: JobResult, error: String?) throws {
        let details = try String(data: JSONSerialization.data(withJSONObject: result.details, options: [.sortedKeys]), encoding: .utf8)
        try connection.transaction { connection in
            try connection.execute(
                """
                UPDATE \(table) SET status = $2, finished_at = clock_timestamp(), rows_affected = $3,
                    bytes_written = $4, batches = $5, error = $6, details = $7::jsonb
                WHERE id = $1
                """, [id, status.rawValue, result.totalRows, result.bytesWritten, result.batches, error, details])
            try addToTotals(job: job, status: status, rows: result.rows)
        }
    }

    private func addToTotals(job: String, status: RunStatus, rows: [String: Int64]) throws {
        let totals = QualifiedName(schema: schema, name: "job_totals").quoted
        try connection.execute(
            """
            INSERT INTO \(totals) (job, status, runs) VALUES ($1, $2, 1)
            ON CONFLICT (job, status) DO UPDATE SET runs = \(totals).runs + 1
            """, [job, status.rawValue])
        let rowTotals = QualifiedName(schema: schema, name: "job_row_totals").quoted
        for (action, count) in rows where count > 0 {
            try connection.execute(
                """
                INSERT INTO \(rowTotals) (job, action, rows) VALUES ($1, $2, $3)
                ON CONFLICT (job, action) DO UPDATE SET rows = \(rowTotals).rows + excluded.rows
                """, [job, action, count])
        }
    }

    /// Records a run that did not happen, and why.
    @discardableResult
    func recordSkipped(job: JobDefinition, scheduledFor: Date?, reason: String) throws -> Int64 {
        try connection.transaction { connection in
            let rows = try connection.query(
                """
                INSERT INTO \(table) (job, job_type, scheduled_for, status, finished_at, error, host, pid, pgsweep_version)
                VALUES ($1, $2, $3, 'skipped', clock_timestamp(), $4, $5, $6, $7) RETURNING id
                """,
                [job.name, job.type.rawValue, scheduledFor, reason, Self.host, Int(getpid()), PGSweepVersion.current])
            try addToTotals(job: job.name, status: .skipped, rows: [:])
            return try rows[0].decode(Int64.self, at: 0)!
        }
    }

    /// Marks `running` rows of `job` as interrupted: called while holding the job's lock,
    /// so no live runner can own them.
    func markInterrupted(job: String) throws -> Int64 {
        try connection.transaction { connection in
            let count = try connection.execute(
                """
                UPDATE \(table) SET status = 'interrupted', finished_at = clock_timestamp(),
                    error = coalesce(error, 'the runner stopped without recording an end (killed or lost its connection)')
                WHERE job = $1 AND status = 'running'
                """, [job]).affectedRows
            for _ in 0..<count { try addToTotals(job: job, status: .interrupted, rows: [:]) }
            return count
        }
    }

    /// True when a run with one of `statuses` is recorded for `job` at fire time `scheduledFor`.
    func hasRun(job: String, scheduledFor: Date, statuses: [RunStatus]) throws -> Bool {
        try !connection.query(
            "SELECT 1 FROM \(table) WHERE job = $1 AND scheduled_for = $2 AND status = ANY($3) LIMIT 1",
            [job, scheduledFor, statuses.map(\.rawValue)]
        ).isEmpty
    }

    /// Deletes finished runs that started before `cutoff`, in batches. Returns rows deleted.
    func prune(before cutoff: Date) throws -> Int64 {
        var total: Int64 = 0
        while true {
            let deleted = try connection.execute(
                """
                DELETE FROM \(table) WHERE id IN (
                    SELECT id FROM \(table) WHERE started_at < $1 AND status <> 'running' LIMIT 10000)
                """, [cutoff]).affectedRows
            total += deleted
            if deleted < 10000 { return total }
        }
    }

    /// The database's clock.
    func now() throws -> Date {
        try connection.query("SELECT clock_timestamp()")[0].decode(Date.self, at: 0)!
    }
}

/// The states of a run in `job_runs.status`.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, succeeded, failed, skipped, interrupted
}
