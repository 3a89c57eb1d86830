import Foundation
import LibPQ

/// What a run changed: rows by action, bytes written, batches.
public struct RunCounts: Sendable, Equatable {
    /// Rows changed, by action (`reclaimed`, `reset`, `archived_completed`...).
    public var rows: [String: Int64] = [:]
    public var bytes: Int64 = 0
    public var batches: Int = 0

    public init(rows: [String: Int64] = [:], bytes: Int64 = 0, batches: Int = 0) {
        self.rows = rows
        self.bytes = bytes
        self.batches = batches
    }

    public var totalRows: Int64 { rows.values.reduce(0, +) }

    static func + (lhs: RunCounts, rhs: RunCounts) -> RunCounts {
        RunCounts(rows: lhs.rows.merging(rhs.rows, uniquingKeysWith: +), bytes: lhs.bytes + rhs.bytes, batches: lhs.batches + rhs.batches)
    }
}

/// Adds each committed unit of a run's work (a batch, a rebuilt index) to its `job_runs` row
/// and to the row totals behind the metrics, in the transaction that commits the work.
///
/// So the run table, `history`, the metrics and the `job finished` line agree with the
/// ledger after any failure: a run that fails, is killed or loses its connection after N
/// batches shows exactly those N batches.
final class RunProgress: @unchecked Sendable {
    // @unchecked Sendable: `record` reads only constants and may run on any thread (a
    // whole-partition copy records on its own connection); `committed` is changed only by
    // `didCommit`, on the thread that runs the job.
    let runID: Int64
    private let runs: String
    private let rowTotals: String
    /// What has committed so far, as this process saw it.
    private(set) var committed = RunCounts()

    init(runID: Int64, schema: String) {
        self.runID = runID
        runs = QualifiedName(schema: schema, name: "job_runs").quoted
        rowTotals = QualifiedName(schema: schema, name: "job_row_totals").quoted
    }

    /// Adds `counts` to the run's row and the row totals on `connection`: inside the
    /// transaction that commits the work, or right after work that cannot run in one
    /// (REINDEX CONCURRENTLY, ANALYZE). Call `didCommit` once that has committed.
    func record(_ counts: RunCounts, on connection: Connection) throws {
        let rows = try String(data: JSONSerialization.data(withJSONObject: counts.rows, options: [.sortedKeys]), encoding: .utf8)!
        try connection.execute(
            """
            WITH run AS (
                UPDATE \(runs) SET
                    rows_affected = rows_affected + $2, bytes_written = bytes_written + $3, batches = batches + $4,
                    rows_by_action = (
                        SELECT coalesce(jsonb_object_agg(key, total), '{}') FROM (
                            SELECT key, sum(value::bigint) AS total FROM (
                                SELECT key, value FROM jsonb_each_text(rows_by_action)
                                UNION ALL SELECT key, value FROM jsonb_each_text($5::jsonb)) parts
                            GROUP BY key) sums),
                    last_progress_at = clock_timestamp()
                WHERE id = $1
                RETURNING table_name, job
            )
            INSERT INTO \(rowTotals) (table_name, job, action, rows)
            SELECT coalesce(run.table_name, ''), run.job, added.key, added.value::bigint
            FROM run, jsonb_each_text($5::jsonb) AS added
            WHERE added.value::bigint > 0
            ON CONFLICT (table_name, job, action) DO UPDATE SET rows = \(rowTotals).rows + excluded.rows
            """, [runID, counts.totalRows, counts.bytes, counts.batches, rows])
    }

    /// Notes that work recorded with `record` has committed.
    func didCommit(_ counts: RunCounts) {
        committed = committed + counts
    }

    /// `record` and `didCommit` for work that has already committed on its own.
    func recordCommitted(_ counts: RunCounts, on connection: Connection) throws {
        try record(counts, on: connection)
        didCommit(counts)
    }
}
