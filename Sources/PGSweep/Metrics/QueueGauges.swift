import Foundation
import LibPQ
import Prometheus

/// The queue's health as gauges, labelled by table and flow: rows by status, age of the
/// oldest pending row, orphans, failed rows with retries left and used up (all as `status`
/// computes them, through the seed's indexes); rows the archive job would take now and the
/// age of the oldest of them; completions in the last five minutes; table and index sizes.
///
/// Read in one READ ONLY transaction with a time budget (`statement_timeout` of `budget`).
/// Rows by status, failed rows (retries split) and orphans are counted exactly up to
/// `QueueStatus.exactCountLimit` per flow, as `status` counts them: what alerts watch must be
/// true right after maintenance moved rows, not at the next ANALYZE. Only past that cap, or
/// when a flow's counts take longer than `flowBudget`, do they become the planner's
/// estimates (or lower bounds). The archivable count is the planner's when it estimates more
/// than `estimateAbove` rows. Every such gauge carries `estimated="true"`.
struct QueueGauges {
    let config: PGSweepConfig
    /// Defaults to two seconds.
    var budget = ConfigDuration.seconds(2)
    /// How long one flow's exact counts may take. Defaults to half a second.
    var flowBudget = ConfigDuration(milliseconds: 500)
    /// Archivable rows counted exactly up to this estimate. Defaults to 100,000 rows: counting
    /// them reads the heap (their completion times), and no alert needs them exact.
    var estimateAbove: Double = 100_000

    func read(table: QualifiedName, on connection: Connection) throws -> [MetricsExporter.Sample] {
        try connection.transaction(.readOnly) { connection in
            try connection.set([("statement_timeout", budget.postgresSetting)], for: .transaction)
            let started = DispatchTime.now()
            var samples: [MetricsExporter.Sample] = []
            let label = ("table", table.unambiguous)
            func gauge(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], _ value: Double) {
                samples.append(.init(kind: .gauge, descriptor: descriptor, job: Self.group, labels: [label] + labels, value: value))
            }
            let quoted = config.table.quoted
            let now = try connection.query("SELECT now()")[0].require(Date.self, at: 0)
            let counted = try QueueStatus.counts(config: config, flow: nil, budget: flowBudget, now: now, on: connection)
            let flows = counted.map(\.flow)
            for flow in counted {
                let f = ("flow", flow.flow)
                func estimated(_ key: String) -> (String, String) {
                    ("estimated", (flow.estimated + flow.atLeast).contains(key) ? "true" : "false")
                }
                for state in QueueStatus.statuses {
                    gauge(MetricName.queueRows, [f, ("status", state), estimated(state)], Double(flow.counts[state] ?? 0))
                }
                gauge(MetricName.oldestPending, [f], flow.oldestPendingAgeSeconds ?? 0)
                gauge(MetricName.orphans, [f, estimated("orphans")], Double(flow.orphans))
                gauge(MetricName.failed, [f, ("retries", "left"), estimated("retryable")], Double(flow.failedRetryable))
                gauge(MetricName.failed, [f, ("retries", "used_up"), estimated("retries_used_up")], Double(flow.failedRetriesUsedUp))
            }
            // Completions in the last five minutes, through idx_<table>_cleanup_timestamps (completed_at first).
            var recent: [String: Double] = [:]
            for row in try connection.query(
                "SELECT flow_name, count(*)::float8 FROM \(quoted) WHERE completed_at > now() - interval '5 minutes' AND status = 'completed' GROUP BY 1")
            {
                recent[try row.require(String.self, at: 0)] = try row.require(Double.self, at: 1)
            }
            for flow in flows { gauge(MetricName.completedRecently, [("flow", flow)], recent[flow] ?? 0) }
            try archivable(flows, table: quoted, now: now, on: connection, into: gauge)
            let sizes = try connection.query(
                """
                SELECT coalesce(sum(pg_table_size(relid)), 0)::float8, coalesce(sum(pg_indexes_size(relid)), 0)::float8
                FROM (\(QueueTable.leafRelations("$1::regclass"))) t
                """, [quoted])[0]
            gauge(MetricName.tableBytes, [], try sizes.require(Double.self, at: 0))
            gauge(MetricName.indexBytes, [], try sizes.require(Double.self, at: 1))
            for (index, ratio) in try lastBloat(of: table, on: connection) { gauge(MetricName.indexBloat, [("index", index)], ratio) }
            gauge(MetricName.gaugeReadSeconds, [], Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9)
            return samples
        }
    }

    /// Each index's bloat as the last reindex run of the table measured it; none before one ran.
    private func lastBloat(of table: QualifiedName, on connection: Connection) throws -> [(String, Double)] {
        let runs = QualifiedName(schema: config.schema, name: "job_runs").quoted
        guard try connection.query("SELECT to_regclass($1) IS NOT NULL", [runs])[0].decode(Bool.self, at: 0) == true,
            let text = try connection.query(
                """
                SELECT details->>'bloat' FROM \(runs)
                WHERE job_type = 'reindex' AND table_name = $1 AND status = 'succeeded' AND details ? 'bloat'
                ORDER BY id DESC LIMIT 1
                """, [table.quoted]).first?.decode(String.self, at: 0),
            let values = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: NSNumber]
        else { return [] }
        return values.map { ($0.key, $0.value.doubleValue) }.sorted { $0.0 < $1.0 }
    }

    /// Rows the archive job would take now, and the age of the oldest of them, per flow.
    private func archivable(
        _ flows: [String], table: String, now: Date, on connection: Connection,
        into gauge: (MetricNameDescriptor, [(String, String)], Double) -> Void
    ) throws {
        guard let settings = config.jobs.lazy.compactMap({ $0.settings(ArchiveJob.Settings.self) }).first else { return }
        let completedCutoff = now.addingTimeInterval(-settings.base.completedBefore.seconds)
        let failedCutoff = now.addingTimeInterval(-settings.base.failedBefore.seconds)
        let condition = """
            ((completed_at < $1 AND status = 'completed')
             OR (completed_at IS NULL AND created_at < $2 AND status = 'failed' AND retry_count >= $3))
            """
        let parameters: [(any PostgresBindable)?] = [completedCutoff, failedCutoff, settings.base.maxRetries]
        // Two estimates summed: the planner multiplies the selectivities of `completed_at <` and
        // `status =` as if unrelated, while only completed rows have a completed_at.
        let estimate = try Plan("SELECT 1 FROM \(table) WHERE completed_at < $1", [completedCutoff], on: connection).rows
            + Plan(
                "SELECT 1 FROM \(table) WHERE completed_at IS NULL AND created_at < $1 AND status = 'failed' AND retry_count >= $2",
                [failedCutoff, settings.base.maxRetries], on: connection
            ).rows
        let estimated = Double(estimate) > estimateAbove
        var counts: [String: Double] = [:]
        var oldest: [String: Double] = [:]
        if estimated {
            // Each flow's share by the planner too: the same two plans, with the flow.
            for flow in flows {
                counts[flow] = Double(
                    try Plan("SELECT 1 FROM \(table) WHERE completed_at < $1 AND flow_name = $2", [completedCutoff, flow], on: connection).rows
                        + Plan(
                            "SELECT 1 FROM \(table) WHERE completed_at IS NULL AND created_at < $1 AND status = 'failed' AND retry_count >= $2 AND flow_name = $3",
                            [failedCutoff, settings.base.maxRetries, flow], on: connection
                        ).rows)
            }
        } else {
            for row in try connection.query(
                "SELECT flow_name, count(*)::float8, extract(epoch FROM now() - min(coalesce(completed_at, created_at)))::float8 FROM \(table) WHERE \(condition) GROUP BY 1",
                parameters)
            {
                let flow = try row.require(String.self, at: 0)
                counts[flow] = try row.require(Double.self, at: 1)
                oldest[flow] = try row.decode(Double.self, at: 2) ?? 0
            }
        }
        // The oldest archivable row's age, through the cleanup index's first entry.
        for flow in flows {
            if estimated {
                oldest[flow] = try connection.query(
                    "SELECT extract(epoch FROM now() - min(completed_at))::float8 FROM \(table) WHERE completed_at < $1 AND status = 'completed' AND flow_name = $2",
                    [completedCutoff, flow])[0].decode(Double.self, at: 0) ?? 0
            }
            let labels = [("flow", flow), ("estimated", estimated ? "true" : "false")]
            gauge(MetricName.archivable, labels, counts[flow] ?? 0)
            gauge(MetricName.oldestArchivable, [("flow", flow)], oldest[flow] ?? 0)
        }
    }

    /// The Pushgateway group of the queue gauges.
    static let group = "pgsweep_queue"
}
