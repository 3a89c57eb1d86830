import Foundation
import LibPQ
@testable import PGSweep
import Testing
import TestSupport

/// `status` and the gauges right after maintenance has moved rows, before any ANALYZE: the
/// counts a person watches a backlog drain by must be the table's, not last night's statistics.
@Suite("Counts right after maintenance")
struct StatusTruthTests {
    @Test("after a reset of 10,000 rows on a 200k-row table, status --json and metrics equal the table's counts per flow and status, the retries split, and the totals")
    func afterReset() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(
                database, scratch,
                jobs: """
                  reset: { type: reset_failed, schedule: "*/15 * * * *" }
                  reclaim: { type: reclaim_orphans, schedule: "*/5 * * * *" }
                """)
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 200_000)
            // 20,000 failed rows have retries left; half of them use theirs up, so the reset moves 10,000.
            try connection.execute(
                """
                UPDATE processing_queue SET retry_count = 3 WHERE id IN (
                    SELECT id FROM processing_queue WHERE status = 'failed' AND retry_count < 3 ORDER BY id OFFSET 10000)
                """)
            try connection.execute("VACUUM ANALYZE processing_queue")
            #expect(try connection.query("SELECT count(*) FROM processing_queue WHERE status = 'failed' AND retry_count < 3")[0].require(Int64.self, at: 0) == 10_000)
            let reset = try CLI.run(["--config", config, "run", "reset"])
            #expect(reset.status == 0, "\(reset.all)")

            var truth: [String: [String: Int64]] = [:]
            for row in try connection.query("SELECT flow_name, status, count(*) FROM processing_queue GROUP BY 1, 2") {
                truth[try row.require(String.self, at: 0), default: [:]][try row.require(String.self, at: 1)] = try row.require(Int64.self, at: 2)
            }
            var split: [String: (left: Int64, usedUp: Int64)] = [:]
            for row in try connection.query(
                "SELECT flow_name, count(*) FILTER (WHERE retry_count < 3), count(*) FILTER (WHERE retry_count >= 3) FROM processing_queue WHERE status = 'failed' GROUP BY 1")
            {
                split[try row.require(String.self, at: 0)] = (try row.require(Int64.self, at: 1), try row.require(Int64.self, at: 2))
            }
            #expect(split.values.map(\.left).reduce(0, +) == 0)

            let status = try CLI.run(["--config", config, "status", "--json"])
            #expect(status.status == 0, "\(status.all)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let flows = try #require(json["flows"] as? [[String: Any]])
            #expect(flows.count == truth.count)
            for flow in flows {
                let name = try #require(flow["flow"] as? String)
                let counts = try #require(flow["counts"] as? [String: Int])
                for state in QueueStatus.statuses {
                    #expect(Int64(counts[state] ?? 0) == truth[name]?[state] ?? 0, "\(name) \(state)")
                }
                #expect((flow["estimated"] as? [String]) == [] && (flow["at_least"] as? [String]) == [], "\(name)")
                #expect(Int64(flow["failed_retryable"] as? Int ?? -1) == split[name]?.left ?? 0, "\(name)")
                #expect(Int64(flow["failed_retries_used_up"] as? Int ?? -1) == split[name]?.usedUp ?? 0, "\(name)")
            }
            let totals = try #require(json["totals"] as? [String: Int])
            for state in QueueStatus.statuses {
                #expect(Int64(totals[state] ?? 0) == truth.values.map { $0[state] ?? 0 }.reduce(0, +), "total \(state)")
            }
            #expect((json["totals_inexact"] as? [String]) == [])

            let metrics = try CLI.run(["--config", config, "metrics"])
            #expect(metrics.status == 0, "\(metrics.all)")
            // The gauges, by their labels (values print as floats).
            var values: [String: Double] = [:]
            for line in metrics.stdout.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                values[String(line[..<space])] = value
            }
            let table = "table=\"public.processing_queue\""
            for (name, counts) in truth {
                for state in QueueStatus.statuses {
                    let key = "pgsweep_queue_rows{\(table),flow=\"\(name)\",status=\"\(state)\",estimated=\"false\"}"
                    #expect(values[key] == Double(counts[state] ?? 0), "\(key)")
                }
                let left = "pgsweep_queue_failed_rows{\(table),flow=\"\(name)\",retries=\"left\",estimated=\"false\"}"
                let usedUp = "pgsweep_queue_failed_rows{\(table),flow=\"\(name)\",retries=\"used_up\",estimated=\"false\"}"
                #expect(values[left] == Double(split[name]?.left ?? 0), "\(left)")
                #expect(values[usedUp] == Double(split[name]?.usedUp ?? 0), "\(usedUp)")
            }
        }
    }
}
