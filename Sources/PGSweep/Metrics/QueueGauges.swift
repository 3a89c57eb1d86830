import Foundation
import LibPQ
import Prometheus

/// The queue's health as gauges, labelled by table and flow: rows by status, age of the
/// oldest pending row, orphans, failed rows with retries left and used up (all as `status`
/// computes them, through the seed's indexes); rows the archive job would take now and the
/// age of the oldest of them; completions in the last five minutes; table and index sizes.
///
/// Read in one READ ONLY transaction with a time budget (`statement_timeout` of `budget`).
/// On a table of more than `estimateAbove` rows (the planner's count) the row, orphan and
/// failed counts are the planner's estimates, and the archivable count likewise when it is
/// estimated above `estimateAbove`; such gauges carry `estimated="true"`. Counting millions
/// of index entries would cost more than a scrape may.
struct QueueGauges {
    let config: PGSweepConfig
    /// Defaults to two seconds.
    var budget = ConfigDuration.seconds(2)
    /// Defaults to 100,000 rows: measured here, counting a 1M-row table's flows through
    /// idx_<table>_flow_name_status took 36 ms per flow even vacuumed, past the 50 ms a whole
    /// scrape may take; 100,000 rows count in a few milliseconds.
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
            let flows: [String]
            if try rowEstimate(quoted, on: connection) > estimateAbove {
                flows = try QueueStatus.flows(of: quoted, on: connection)
                try estimatedCounts(flows, table: quoted, on: connection, into: gauge)
            } else {
                let status = try QueueStatus.read(config: config, flow: nil, exactUpTo: nil, on: connection)
                flows = status.flows.map(\.flow)
                for flow in status.flows {
                    let f = ("flow", flow.flow), exact = ("estimated", "false")
                    for state in QueueStatus.statuses { gauge(MetricName.queueRows, [f, ("status", state), exact], Double(flow.counts[state] ?? 0)) }
                    gauge(MetricName.oldestPending, [f], flow.oldestPendingAgeSeconds ?? 0)
                    gauge(MetricName.orphans, [f, exact], Double(flow.orphans))
                    gauge(MetricName.failed, [f, ("retries", "left"), exact], Double(flow.failedRetryable))
                    gauge(MetricName.failed, [f, ("retries", "used_up"), exact], Double(flow.failedRetriesUsedUp))
                }
            }
            // Completions in the last five minutes, through idx_<table>_cleanup_timestamps (completed_at first).
            var recent: [String: Double] = [:]
            for row in try connection.query(
                "SELECT flow_name, count(*)::float8 FROM \(quoted) WHERE completed_at > now() - interval '5 minutes' AND status = 'completed' GROUP BY 1")
            {
                recent[try row.require(String.self, at: 0)] = try row.require(Double.self, at: 1)
            }
            for flow in flows { gauge(MetricName.completedRecently, [("flow", flow)], recent[flow] ?? 0) }
            try archivable(flows, table: quoted, on: connection, into: gauge)
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

    /// The planner's row count of the table (its partitions summed).
    private func rowEstimate(_ table: String, on connection: Connection) throws -> Double {
        try connection.query(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 FROM (\(QueueTable.leafRelations("$1::regclass"))) t JOIN pg_class c ON c.oid = t.relid",
            [table])[0].require(Double.self, at: 0)
    }

    /// Above `estimateAbove` rows: the counts by the planner's estimates (its statistics on
    /// flow_name, status and retry_count), labelled `estimated="true"`; the oldest pending row
    /// is still read exactly (one probe of idx_<table>_monitoring per flow).
    private func estimatedCounts(
        _ flows: [String], table: String, on connection: Connection, into gauge: (MetricNameDescriptor, [(String, String)], Double) -> Void
    ) throws {
        let thresholds = QueueThresholds(config: config)
        let now = try connection.query("SELECT now()")[0].require(Date.self, at: 0)
        let estimated = ("estimated", "true")
        func plan(_ condition: String, _ parameters: [(any PostgresBindable)?]) throws -> Double {
            Double(try Plan("SELECT 1 FROM \(table) WHERE \(condition)", parameters, on: connection).rows)
        }
        for flow in flows {
            let f = ("flow", flow)
            for state in QueueStatus.statuses {
                gauge(MetricName.queueRows, [f, ("status", state), estimated], try plan("flow_name = $1 AND status = $2", [flow, state]))
            }
            let oldest = try connection.query(
                "SELECT extract(epoch FROM now() - min(created_at))::float8 FROM \(table) WHERE flow_name = $1 AND status = 'pending'", [flow])[0]
            gauge(MetricName.oldestPending, [f], try oldest.decode(Double.self, at: 0) ?? 0)
            let cutoff = now.addingTimeInterval(-thresholds.orphanAge(flow).seconds)
            gauge(MetricName.orphans, [f, estimated], try plan("flow_name = $1 AND status = 'processing' AND claimed_at < $2", [flow, cutoff]))
            let retries = thresholds.maxRetries(flow)
            gauge(MetricName.failed, [f, ("retries", "left"), estimated], try plan("flow_name = $1 AND status = 'failed' AND retry_count < $2", [flow, retries]))
            gauge(MetricName.failed, [f, ("retries", "used_up"), estimated], try plan("flow_name = $1 AND status = 'failed' AND retry_count >= $2", [flow, retries]))
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
        _ flows: [String], table: String, on connection: Connection,
        into gauge: (MetricNameDescriptor, [(String, String)], Double) -> Void
    ) throws {
        guard let settings = config.jobs.lazy.compactMap({ $0.settings(ArchiveJob.Settings.self) }).first else { return }
        let now = try connection.query("SELECT now()")[0].require(Date.self, at: 0)
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
