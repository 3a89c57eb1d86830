import Foundation
import LibPQ

/// One flow's counts for `status` and the queue gauges, in one statement through the seed's
/// indexes: rows by status (`idx_<table>_flow_name_status`), orphans, failed rows with
/// retries left and used up, and the oldest pending row (`idx_<table>_monitoring`).
///
/// Each count reads at most `cap` + 1 rows. One that finds more takes the planner's estimate
/// when that is higher, and is otherwise shown as the lower bound `cap`; either way it is
/// marked, never passed off as exact. When the statement takes longer than its budget, every
/// count of the flow is the planner's estimate.
struct FlowCounter {
    let table: String
    let flow: String
    let now: Date
    let orphanCutoff: Date
    let maxRetries: Int
    /// Rows read per count at most; nil counts every row.
    let cap: Int?

    /// What was counted.
    struct Counts {
        var statuses: [String: Int64] = [:]
        var orphans: Int64 = 0
        var retryable: Int64 = 0
        var retriesUsedUp: Int64 = 0
        var oldestPendingAge: Double?
        var estimated: [String] = []
        var atLeast: [String] = []
    }

    /// The counts other than by status, by their names in `estimated` and `atLeast`, with the
    /// condition each adds to `flow_name = $1` and its parameters after the flow's.
    private var others: [(name: String, condition: String, parameters: [(any PostgresBindable)?])] {
        [
            ("orphans", "status = 'processing' AND claimed_at < $2", [orphanCutoff]),
            ("retryable", "status = 'failed' AND retry_count < $2", [maxRetries]),
            ("retries_used_up", "status = 'failed' AND retry_count >= $2", [maxRetries]),
        ]
    }

    func read(budget: ConfigDuration?, on connection: Connection) throws -> Counts {
        let exact = try Self.bounded(budget, on: connection) { try count(on: connection) }
        return try exact ?? estimates(on: connection)
    }

    /// Every count by the planner, and the oldest pending row read exactly (one index probe).
    private func estimates(on connection: Connection) throws -> Counts {
        var counts = Counts()
        for state in QueueStatus.statuses {
            counts.statuses[state] = try planned("status = $2", [state], on: connection)
            counts.estimated.append(state)
        }
        counts.orphans = try planned(others[0].condition, others[0].parameters, on: connection)
        counts.retryable = try planned(others[1].condition, others[1].parameters, on: connection)
        counts.retriesUsedUp = try planned(others[2].condition, others[2].parameters, on: connection)
        counts.estimated += others.map(\.name)
        counts.oldestPendingAge = try connection.query(
            "SELECT extract(epoch FROM $2::timestamptz - min(created_at))::float8 FROM \(table) WHERE flow_name = $1 AND status = 'pending'",
            [flow, now])[0].decode(Double.self, at: 0)
        return counts
    }

    private func planned(_ condition: String, _ parameters: [(any PostgresBindable)?], on connection: Connection) throws -> Int64 {
        Int64(try Plan("SELECT 1 FROM \(table) WHERE flow_name = $1 AND \(condition)", [flow] + parameters, on: connection).rows)
    }

    /// The capped counts in one statement; the counts past the cap then settled with the planner.
    private func count(on connection: Connection) throws -> Counts {
        let limit = cap.map { Int64($0) + 1 }
        var parameters: [(any PostgresBindable)?] = [flow, limit, now, orphanCutoff, maxRetries]
        let statuses = QueueStatus.statuses
        var columns: [String] = []
        for state in statuses {
            parameters.append(state)
            columns.append("(SELECT count(*) FROM (SELECT FROM \(table) WHERE flow_name = $1 AND status = $\(parameters.count) LIMIT $2::bigint) s)")
        }
        // The orphans' condition with its cutoff at $4.
        let orphans = others[0].condition.replacingOccurrences(of: "$2", with: "$4")
        columns.append("(SELECT count(*) FROM (SELECT FROM \(table) WHERE flow_name = $1 AND \(orphans) LIMIT $2::bigint) s)")
        columns += ["f.retryable", "f.used_up", "f.truncated"]
        columns.append(
            "(SELECT extract(epoch FROM $3::timestamptz - min(created_at))::float8 FROM \(table) WHERE flow_name = $1 AND status = 'pending')")
        // Failed rows read once for both sides of the split, each side capped on its own;
        // `truncated` when the read stopped at its limit (then neither side is known whole).
        let failed = """
            (SELECT least(count(*) FILTER (WHERE retry_count < $5), $2::bigint) AS retryable,
                    least(count(*) FILTER (WHERE retry_count >= $5), $2::bigint) AS used_up,
                    coalesce(count(*) >= 2 * $2::bigint, false) AS truncated
             FROM (SELECT retry_count FROM \(table) WHERE flow_name = $1 AND status = 'failed' LIMIT 2 * $2::bigint) s) f
            """
        let row = try connection.query("SELECT \(columns.joined(separator: ", ")) FROM \(failed)", parameters)[0]
        var counts = Counts()
        for (index, state) in statuses.enumerated() {
            let value = try settle(try row.decode(Int64.self, at: index) ?? 0, name: state, limit: limit, into: &counts) {
                try planned("status = $2", [state], on: connection)
            }
            if value > 0 { counts.statuses[state] = value }
        }
        let truncated = try row.require(Bool.self, at: statuses.count + 3)
        let sides = try [row.require(Int64.self, at: statuses.count + 1), row.require(Int64.self, at: statuses.count + 2)]
            .map { truncated ? max($0, limit ?? $0) : $0 }
        let counted = [try row.decode(Int64.self, at: statuses.count) ?? 0] + sides
        var values: [Int64] = []
        for (other, value) in zip(others, counted) {
            values.append(try settle(value, name: other.name, limit: limit, into: &counts) {
                try planned(other.condition, other.parameters, on: connection)
            })
        }
        (counts.orphans, counts.retryable, counts.retriesUsedUp) = (values[0], values[1], values[2])
        counts.oldestPendingAge = try row.decode(Double.self, at: statuses.count + 4)
        return counts
    }

    /// A capped count as shown: itself when under the cap; past it, the planner's estimate
    /// when higher (marked estimated), else the cap (marked as a lower bound).
    private func settle(_ counted: Int64, name: String, limit: Int64?, into counts: inout Counts, estimate: () throws -> Int64) throws -> Int64 {
        guard let limit, counted >= limit else { return counted }
        let planned = try estimate()
        if planned >= limit {
            counts.estimated.append(name)
            return planned
        }
        counts.atLeast.append(name)
        return limit - 1
    }

    /// Runs `body` under a statement timeout of `budget` (when given), inside a savepoint when
    /// a transaction is open; nil when it ran out of time. The connection's own timeout is
    /// put back either way.
    static func bounded<T>(_ budget: ConfigDuration?, on connection: Connection, _ body: () throws -> T) throws -> T? {
        guard let budget else { return try body() }
        let inTransaction = !connection.isIdle
        let previous = try connection.query("SELECT current_setting('statement_timeout')")[0].require(String.self, at: 0)
        func setTimeout(_ value: String) throws {
            try connection.execute("SELECT set_config('statement_timeout', $1, $2)", [value, inTransaction])
        }
        if inTransaction { try connection.execute("SAVEPOINT pgsweep_counts") }
        do {
            try setTimeout(budget.postgresSetting)
            let value = try body()
            try setTimeout(previous)
            if inTransaction { try connection.execute("RELEASE SAVEPOINT pgsweep_counts") }
            return value
        } catch let error as PostgresError where error.sqlState == .queryCanceled {
            if inTransaction { try connection.execute("ROLLBACK TO SAVEPOINT pgsweep_counts") }
            try setTimeout(previous)
            return nil
        } catch {
            if inTransaction { _ = try? connection.execute("ROLLBACK TO SAVEPOINT pgsweep_counts") }
            _ = try? setTimeout(previous)
            throw error
        }
    }
}
