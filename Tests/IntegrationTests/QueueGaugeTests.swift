import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

/// The queue gauges, each against SQL on the same rows; `pgsweep metrics` passes promtool.
@Suite("Queue gauges")
struct QueueGaugeTests {
    static let jobs = """
          reclaim: { type: reclaim_orphans, schedule: "*/5 * * * *", claimed_before: 1h }
          reset: { type: reset_failed, schedule: "*/15 * * * *" }
          archive: { type: archive, schedule: "0 3 * * *", completed_before: 7d, failed_before: 30d }
        """

    /// `name{labels}` → value, from an exposition.
    static func parse(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }

    static func count(_ connection: Connection, _ condition: String, _ flow: String) throws -> Double {
        Double(try connection.query("SELECT count(*) FROM processing_queue WHERE flow_name = $1 AND \(condition)", [flow])[0]
            .decode(Int64.self, at: 0) ?? 0)
    }

    @Test("each gauge equals SQL on the same rows, and the exposition passes promtool check metrics")
    func gaugesMatchSQL() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(database, scratch, jobs: Self.jobs)
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 10_000)
            try connection.execute("UPDATE processing_queue SET completed_at = now() - interval '1 minute' WHERE id % 50 = 1 AND status = 'completed'")
            let output = try CLI.run(["--config", config, "metrics"])
            #expect(output.status == 0, "\(output.all)")
            try output.stdout.write(toFile: scratch.file("m.prom"), atomically: true, encoding: .utf8)
            let check = try ProcessRunner.run("/bin/bash", ["-c", "promtool check metrics < \"$0\"", scratch.file("m.prom")])
            #expect(check.status == 0, "\(check.all)")
            let values = Self.parse(output.stdout)
            let flows = try connection.query("SELECT DISTINCT flow_name FROM processing_queue ORDER BY 1").map { try $0.decode(String.self, at: 0)! }
            #expect(flows.count == 5)
            let table = "table=\"public.processing_queue\""
            for flow in flows {
                let f = "flow=\"\(flow)\""
                for status in ["pending", "processing", "completed", "failed"] {
                    #expect(values["pgsweep_queue_rows{\(table),\(f),status=\"\(status)\",estimated=\"false\"}"] == (try Self.count(connection, "status = '\(status)'", flow)))
                }
                #expect(values["pgsweep_queue_orphans{\(table),\(f),estimated=\"false\"}"]
                    == (try Self.count(connection, "status = 'processing' AND claimed_at < now() - interval '1 hour'", flow)))
                #expect(values["pgsweep_queue_failed_rows{\(table),\(f),retries=\"used_up\",estimated=\"false\"}"]
                    == (try Self.count(connection, "status = 'failed' AND retry_count >= 3", flow)))
                #expect(values["pgsweep_queue_failed_rows{\(table),\(f),retries=\"left\",estimated=\"false\"}"]
                    == (try Self.count(connection, "status = 'failed' AND retry_count < 3", flow)))
                #expect(values["pgsweep_queue_completed_last_5m{\(table),\(f)}"]
                    == (try Self.count(connection, "status = 'completed' AND completed_at > now() - interval '5 minutes'", flow)))
                #expect(values["pgsweep_queue_archivable_rows{\(table),\(f),estimated=\"false\"}"] == (try Self.count(connection, ArchiveTests.archivable.replacingOccurrences(of: "\n", with: " ").wrappedInParentheses, flow)))
                let oldest = try connection.query(
                    "SELECT extract(epoch FROM now() - min(created_at))::float8 FROM processing_queue WHERE flow_name = $1 AND status = 'pending'", [flow])[0]
                    .decode(Double.self, at: 0) ?? 0
                #expect(abs((values["pgsweep_queue_oldest_pending_age_seconds{\(table),\(f)}"] ?? -1) - oldest) < 60)
            }
            let bytes = try connection.query("SELECT pg_table_size('processing_queue')::float8, pg_indexes_size('processing_queue')::float8")[0]
            #expect(values["pgsweep_queue_table_bytes{\(table)}"] == (try bytes.decode(Double.self, at: 0)))
            #expect(values["pgsweep_queue_index_bytes{\(table)}"] == (try bytes.decode(Double.self, at: 1)))
        }
    }

    @Test("above the threshold the archivable counts are the planner's estimates, labelled; the counts by status, failed and orphans stay exact")
    func estimateAboveThreshold() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let path = try RunnerTests.prepare(database, scratch, jobs: Self.jobs)
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 10_000)
            let config = try ConfigLoader.load(path: path, environment: [:])
            var gauges = QueueGauges(config: config)
            gauges.estimateAbove = 100
            let samples = try gauges.read(table: QualifiedName(schema: "public", name: "processing_queue"), on: connection)
            let archivable = samples.filter { $0.descriptor.name == MetricName.archivable.name }
            #expect(archivable.count == 5)
            #expect(archivable.allSatisfy { $0.labels.contains { $0 == ("estimated", "true") } })
            let exact = Double(try connection.query("SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)")[0].decode(Int64.self, at: 0) ?? 0)
            let total = archivable.map(\.value).reduce(0, +)
            #expect(total > exact * 0.5 && total < exact * 1.5, "estimate \(total), exact \(exact)")
            // The rows by status, the failed split and the orphans stay exact.
            let rows = samples.filter { $0.descriptor.name == MetricName.queueRows.name }
            #expect(rows.count == 20)
            for row in rows {
                let state = row.labels.first { $0.0 == "status" }?.1 ?? ""
                let flow = row.labels.first { $0.0 == "flow" }?.1 ?? ""
                #expect(row.labels.contains { $0 == ("estimated", "false") }, "\(row.labels)")
                let actual = try connection.query(
                    "SELECT count(*) FROM processing_queue WHERE flow_name = $1 AND status = $2", [flow, state])[0].require(Int64.self, at: 0)
                #expect(row.value == Double(actual), "\(flow) \(state)")
            }
            for sample in samples where [MetricName.orphans.name, MetricName.failed.name].contains(sample.descriptor.name) {
                #expect(sample.labels.contains { $0 == ("estimated", "false") }, "\(sample.labels)")
            }
        }
    }
}

extension String {
    fileprivate var wrappedInParentheses: String { "(\(self))" }
}
