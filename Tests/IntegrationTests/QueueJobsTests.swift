import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

/// `reclaim_orphans` and `reset_failed` on 200k rows in every state, next to live workers.
@Suite("Queue jobs")
struct QueueJobsTests {
    static let rows = 200_000

    static func prepare(_ database: TestDatabase, _ scratch: ScratchFolder, jobs: String, extra: String = "") throws -> String {
        let config = try RunnerTests.prepare(database, scratch, jobs: jobs, extra: extra)
        try QueueFixture.load(try database.connect(), count: rows)
        return config
    }

    static func count(_ connection: Connection, _ condition: String, _ parameters: [(any PostgresBindable)?] = []) throws -> Int64 {
        try connection.query("SELECT count(*) FROM processing_queue WHERE \(condition)", parameters)[0].decode(Int64.self, at: 0)!
    }

    static func lastRun(_ connection: Connection, job: String) throws -> (status: String, rows: Int64) {
        let row = try connection.query(
            "SELECT status, rows_affected FROM pgsweep.job_runs WHERE job = $1 ORDER BY id DESC LIMIT 1", [job])[0]
        return (try row.decode(String.self, at: 0)!, try row.decode(Int64.self, at: 1)!)
    }

    @Test("reclaim leaves no orphan behind except rows a live worker holds, which the next run reclaims")
    func reclaimOrphans() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, jobs: "  reclaim: { type: reclaim_orphans, schedule: \"*/5 * * * *\", claimed_before: 1h }")
            let connection = try database.connect()
            let orphanCondition = "status = 'processing' AND claimed_at < now() - interval '1 hour'"
            let orphans = try Self.count(connection, orphanCondition)
            let exhausted = try Self.count(connection, "\(orphanCondition) AND retry_count >= 3")
            let live = try Self.count(connection, "status = 'processing' AND claimed_at >= now() - interval '1 hour'")
            #expect(orphans == 20_000)
            let failedBefore = try Self.count(connection, "status = 'failed'")
            let pendingBefore = try Self.count(connection, "status = 'pending'")

            // A live worker holds ten orphans (as a worker that is slow, not dead, would).
            let worker = try database.connect()
            try worker.execute("BEGIN")
            let held = try worker.query(
                "SELECT id FROM processing_queue WHERE \(orphanCondition) ORDER BY id LIMIT 10 FOR UPDATE"
            ).map { try $0.decode(Int64.self, at: 0)! }

            let output = try CLI.run(["--config", config, "--log-format", "json", "run", "reclaim"])
            #expect(output.status == 0, "\(output.all)")
            #expect(try Self.count(connection, orphanCondition) == 10)
            #expect(try Self.count(connection, "\(orphanCondition) AND id = ANY($1)", [held]) == 10)
            #expect(try Self.count(connection, "status = 'processing' AND claimed_at >= now() - interval '1 hour'") == live)
            // Counts reported equal counts changed.
            let run = try Self.lastRun(connection, job: "reclaim")
            #expect(run.status == "succeeded")
            #expect(run.rows == orphans - 10)
            let heldExhausted = try Self.count(connection, "id = ANY($1) AND retry_count >= 3", [held])
            let nowFailed = try Self.count(connection, "status = 'failed'") - failedBefore
            #expect(nowFailed == exhausted - heldExhausted)
            #expect(try Self.count(connection, "status = 'pending'") - pendingBefore == orphans - 10 - nowFailed)
            #expect(output.stderr.contains("\"rows.failed\":\(nowFailed)"))
            #expect(output.stderr.contains("\"rows.reclaimed\":\(orphans - 10 - nowFailed)"))
            // Rows whose retries were used up say why.
            #expect(try Self.count(
                connection, "status = 'failed' AND error_message LIKE 'pgsweep reclaim_orphans: claimed at % retries used up (% of 3)'"
            ) == nowFailed)
            #expect(try Self.count(connection, "status = 'pending' AND (claimed_at IS NOT NULL OR flow_instance_id IS NOT NULL)") == 0)

            try worker.execute("ROLLBACK")
            #expect(try CLI.run(["--config", config, "run", "reclaim"]).status == 0)
            #expect(try Self.count(connection, orphanCondition) == 0)
            #expect(try Self.lastRun(connection, job: "reclaim").rows == 10)
        }
    }

    @Test("a row a worker completes between batches is never overwritten")
    func workerChangeBetweenBatches() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 10_000)
            // The newest orphan is reached last; a worker completes it after the first batch.
            let target = try connection.query(
                """
                SELECT id FROM processing_queue WHERE status = 'processing' AND claimed_at < now() - interval '1 hour'
                ORDER BY claimed_at DESC LIMIT 1
                """)[0].decode(Int64.self, at: 0)!
            let config = try ConfigLoader.parse(
                "jobs:\n  reclaim: { type: reclaim_orphans, schedule: \"@hourly\", batch_size: 100 }",
                file: "/tmp/jobs.yaml", environment: [:])
            let definition = try #require(config.job(named: "reclaim"))
            let workerInfo = database.conninfo
            let batches = Counter()
            var context = JobContext(
                connection: try database.connect(), logger: TestLogging.silent, table: config.table, limits: definition.limits,
                statementTimeout: .seconds(30), lockTimeout: .seconds(5), dryRun: false, shutdown: Shutdown(),
                startedAt: try connection.query("SELECT now()")[0].decode(Date.self, at: 0)!)
            context.onBatch = { _ in
                guard batches.increment() == 1 else { return }
                let worker = try! Connection(conninfo: workerInfo, logger: TestLogging.silent)
                try! worker.execute(
                    "UPDATE processing_queue SET status = 'completed', completed_at = now() WHERE id = $1", [target])
            }
            let result = try definition.job(config: config).run(context)
            #expect(batches.value > 2)
            #expect(result.totalRows == 999)  // 1000 orphans in 10k rows, one completed by the worker
            let row = try connection.query("SELECT status, completed_at IS NOT NULL FROM processing_queue WHERE id = $1", [target])[0]
            #expect(try row.decode(String.self, at: 0) == "completed")
            #expect(try row.decode(Bool.self, at: 1) == true)
        }
    }

    @Test("flow_overrides give a flow its own threshold; flows limits the job to some flows")
    func flowOverrides() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(
                database, scratch,
                jobs: """
                  reclaim: { type: reclaim_orphans, schedule: "@hourly", claimed_before: 1h, flow_overrides: { video-transcode: { claimed_before: 6h } } }
                  reset: { type: reset_failed, schedule: "@hourly", flows: [email-send, thumbnail] }
                """)
            let connection = try database.connect()
            // Orphans claimed 3 or 10 hours ago: nothing near the 1h and 6h thresholds.
            try connection.execute(
                """
                UPDATE processing_queue SET claimed_at = now() - CASE WHEN id % 3 = 0 THEN interval '10 hours' ELSE interval '3 hours' END
                WHERE status = 'processing' AND claimed_at < now() - interval '1 hour'
                """)
            let videoYoung = try Self.count(
                connection, "flow_name = 'video-transcode' AND status = 'processing' AND claimed_at BETWEEN now() - interval '6 hours' AND now() - interval '1 hour'")
            #expect(videoYoung > 0)
            #expect(try CLI.run(["--config", config, "run", "reclaim", "reset"]).status == 0)
            #expect(try Self.count(connection, "status = 'processing' AND claimed_at < now() - interval '1 hour' AND flow_name <> 'video-transcode'") == 0)
            #expect(try Self.count(connection, "flow_name = 'video-transcode' AND status = 'processing' AND claimed_at < now() - interval '6 hours'") == 0)
            #expect(try Self.count(
                connection, "flow_name = 'video-transcode' AND status = 'processing' AND claimed_at BETWEEN now() - interval '6 hours' AND now() - interval '1 hour'"
            ) == videoYoung)
            #expect(try Self.count(connection, "status = 'failed' AND retry_count < 3 AND flow_name IN ('email-send', 'thumbnail')") == 0)
            #expect(try Self.count(connection, "status = 'failed' AND retry_count < 3 AND flow_name = 'invoice-render'") > 0)
        }
    }

    @Test("reset_failed re-queues failed rows with retries left, counts +1, leaves used-up rows alone")
    func resetFailed() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, jobs: "  reset: { type: reset_failed, schedule: \"*/15 * * * *\", failed_before: 1d }")
            let connection = try database.connect()
            // Failed either two days or one hour ago: nothing near the 1d back-off boundary.
            try connection.execute(
                "UPDATE processing_queue SET updated_at = now() - CASE WHEN id % 2 = 0 THEN interval '2 days' ELSE interval '1 hour' END WHERE status = 'failed'")
            let eligible = "status = 'failed' AND retry_count < 3 AND updated_at <= now() - interval '1 day'"
            let expected = try Self.count(connection, eligible)
            let young = try Self.count(connection, "status = 'failed' AND retry_count < 3 AND updated_at > now() - interval '1 day'")
            let usedUp = try Self.count(connection, "status = 'failed' AND retry_count >= 3")
            let retrySumBefore = try connection.query("SELECT sum(retry_count) FROM processing_queue WHERE \(eligible)")[0].decode(Int64.self, at: 0)!
            let ids = try connection.query("SELECT id FROM processing_queue WHERE \(eligible)").map { try $0.decode(Int64.self, at: 0)! }

            let dry = try CLI.run(["--config", config, "--log-format", "json", "run", "reset", "--dry-run"])
            #expect(dry.stderr.contains("\"rows.reset\":\(expected)"), "\(dry.stderr)")
            #expect(try Self.count(connection, eligible) == expected)

            #expect(try CLI.run(["--config", config, "run", "reset"]).status == 0)
            #expect(try Self.count(connection, eligible) == 0)
            #expect(try Self.lastRun(connection, job: "reset").rows == expected)
            #expect(try Self.count(connection, "id = ANY($1) AND status = 'pending'", [ids]) == expected)
            let retrySumAfter = try connection.query("SELECT sum(retry_count) FROM processing_queue WHERE id = ANY($1)", [ids])[0]
                .decode(Int64.self, at: 0)!
            #expect(retrySumAfter == retrySumBefore + expected)
            #expect(try Self.count(connection, "status = 'failed' AND retry_count < 3 AND updated_at > now() - interval '1 day'") == young)
            #expect(try Self.count(connection, "status = 'failed' AND retry_count >= 3") == usedUp)
        }
    }

    @Test("explain: each batch query uses its index on an analyzed 200k-row table")
    func explainUsesIndexes() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(
                database, scratch,
                jobs: """
                  reclaim: { type: reclaim_orphans, schedule: "@hourly", flow_overrides: { thumbnail: { claimed_before: 3h } } }
                  reset: { type: reset_failed, schedule: "@hourly", flows: [email-send] }
                  stats: { type: analyze, schedule: "@daily" }
                """)
            let output = try CLI.run(["--config", config, "explain", "--json"])
            #expect(output.status == 0, "\(output.all)")
            let jobs = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [[String: Any]])
            let queries = jobs.flatMap { $0["queries"] as? [[String: Any]] ?? [] }
            #expect(queries.count == 3)
            for query in queries {
                #expect(query["uses_index"] as? Bool == true, "\(query["title"] ?? "")\n\(query["plan"] ?? "")")
                #expect(query["sequential_scan"] as? Bool == false)
            }
            let reclaimIndexes = queries.filter { ($0["title"] as? String)?.hasPrefix("reclaim") == true }
                .flatMap { $0["indexes_used"] as? [String] ?? [] }
            #expect(reclaimIndexes.contains("idx_processing_queue_processing_claimed_at"))

            // Without its index, explain says so and exits 1.
            try database.connect().execute("DROP INDEX idx_processing_queue_processing_claimed_at")
            let broken = try CLI.run(["--config", config, "explain", "reclaim"])
            #expect(broken.status == 1)
            #expect(broken.stdout.contains("PROBLEM: expected idx_processing_queue_processing_claimed_at"))
        }
    }

    @Test("status counts match the table, per flow, as text and JSON; past the cap a count is the planner's estimate or a lower bound, marked, never the cap plus one")
    func status() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, jobs: "  reclaim: { type: reclaim_orphans, schedule: \"@hourly\" }")
            let connection = try database.connect()
            // A small flow next to the fixture's five of 40,000 rows each.
            try connection.execute("INSERT INTO processing_queue (flow_name, status) SELECT 'tiny', 'pending' FROM generate_series(1, 7)")
            try connection.execute("ANALYZE processing_queue")
            func flows(_ arguments: [String]) throws -> [String: [String: Any]] {
                let output = try CLI.run(["--config", config, "status", "--json"] + arguments)
                #expect(output.status == 0, "\(output.all)")
                let status = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
                let flows = try #require(status["flows"] as? [[String: Any]])
                return Dictionary(uniqueKeysWithValues: flows.map { ($0["flow"] as? String ?? "", $0) })
            }
            // By default every count here is exact (under the cap of a million), as with --exact.
            for counted in [try flows(["--exact"]), try flows([])] {
                #expect(counted.count == 6)
                for (name, flow) in counted {
                    let counts = try #require(flow["counts"] as? [String: Int])
                    #expect((flow["estimated"] as? [String]) == [] && (flow["at_least"] as? [String]) == [], "\(name)")
                    for state in ["pending", "processing", "completed", "failed"] {
                        #expect(Int64(counts[state] ?? 0) == (try Self.count(connection, "flow_name = $1 AND status = $2", [name, state])))
                    }
                    let orphans = try Self.count(
                        connection, "flow_name = $1 AND status = 'processing' AND claimed_at < now() - interval '1 hour'", [name])
                    #expect(Int64(flow["orphans"] as? Int ?? -1) == orphans)
                    let usedUp = try Self.count(connection, "flow_name = $1 AND status = 'failed' AND retry_count >= 3", [name])
                    #expect(Int64(flow["failed_retries_used_up"] as? Int ?? -1) == usedUp)
                }
            }

            // With a cap of 5,000 rows: a count past it is the planner's estimate when that is
            // higher, else the cap itself as a lower bound; each marked, none of them 5,001.
            let loaded = try ConfigLoader.load(path: config, environment: [:])
            let capped = try QueueStatus.read(config: loaded, flow: nil, exactUpTo: 5_000, on: connection)
            for flow in capped.flows {
                for state in QueueStatus.statuses {
                    let actual = try Self.count(connection, "flow_name = $1 AND status = $2", [flow.flow, state])
                    let shown = flow.counts[state] ?? 0
                    #expect(shown != 5_001, "\(flow.flow) \(state)")
                    if actual > 5_000 {
                        #expect(flow.estimated.contains(state) != flow.atLeast.contains(state), "\(flow.flow) \(state): marked once")
                        if flow.atLeast.contains(state) { #expect(shown == 5_000) } else { #expect(shown > 5_000, "\(flow.flow) \(state): \(shown)") }
                    } else {
                        #expect(shown == actual && !flow.estimated.contains(state) && !flow.atLeast.contains(state), "\(flow.flow) \(state)")
                    }
                }
            }
            #expect(capped.flows.contains { !$0.estimated.isEmpty || !$0.atLeast.isEmpty })

            let one = try CLI.run(["--config", config, "status", "--flow", "thumbnail"])
            #expect(one.status == 0)
            #expect(one.stdout.contains("thumbnail"))
            #expect(!one.stdout.contains("email-send"))
            #expect(!one.stdout.contains("~") && !one.stdout.contains("the planner's estimate"), "\(one.stdout)")
        }
    }
}

/// A thread-safe counter for callbacks.
final class Counter: @unchecked Sendable {
    // @unchecked Sendable: `count` is only touched under `lock`.
    private let lock = NSLock()
    private var count = 0

    func increment() -> Int { lock.withLock { count += 1; return count } }
    var value: Int { lock.withLock { count } }
}
