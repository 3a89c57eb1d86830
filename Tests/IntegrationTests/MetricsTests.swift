import Foundation
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Metrics")
struct MetricsTests {
    @Test("the textfile holds the run counters and gauges, replaced atomically after every run")
    func textfile() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let path = scratch.file("pgsweep.prom")
            let config = try RunnerTests.prepare(
                database, scratch, jobs: "  stats: { type: analyze, schedule: \"@daily\", force: true }",
                extra: "metrics:\n  textfile: \(path)")
            #expect(try CLI.run(["--config", config, "run", "stats"]).status == 0)
            #expect(try CLI.run(["--config", config, "run", "stats"]).status == 0)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains("pgsweep_job_runs_total{job=\"stats\",table=\"public.processing_queue\",status=\"succeeded\"} 2\n"), "\(text)")
            #expect(text.contains("# TYPE pgsweep_job_runs_total counter"))
            #expect(text.contains("pgsweep_job_last_success_timestamp_seconds{job=\"stats\",table=\"public.processing_queue\"} 1"))
            #expect(text.contains("pgsweep_job_duration_seconds{job=\"stats\",table=\"public.processing_queue\"} "))
            #expect(text.hasSuffix("\n"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains(".tmp") }.isEmpty)
        }
    }

    @Test("every configured job's counters exist at 0 before they first move: runs by status, and seconds throttled by each signal it reads")
    func countersStartAtZero() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(
                database, scratch,
                jobs: """
                  stats: { type: analyze, schedule: "@daily", force: true }
                  quiet: { type: analyze, schedule: "@daily", throttle: { max_replica_lag: off, max_replica_lag_bytes: off, min_slot_safe_wal_size: off, max_archive_backlog: off } }
                """)
            let output = try CLI.run(["--config", config, "metrics"])
            #expect(output.status == 0, "\(output.all)")
            let table = "table=\"public.processing_queue\""
            for status in ["succeeded", "failed", "interrupted", "skipped", "throttled"] {
                #expect(output.stdout.contains("pgsweep_job_runs_total{job=\"stats\",\(table),status=\"\(status)\"} 0\n"), "\(output.stdout)")
            }
            for reason in ["replica_lag", "replica_lag_bytes", "slot_unreserved", "slot_safe_wal_size", "archive_backlog"] {
                #expect(
                    output.stdout.contains("pgsweep_job_throttled_seconds_total{job=\"stats\",\(table),reason=\"\(reason)\"} 0\n"),
                    "\(output.stdout)")
            }
            #expect(!output.stdout.contains("pgsweep_job_throttled_seconds_total{job=\"quiet\""), "\(output.stdout)")
            // A counter that moved shows its value, once.
            #expect(try CLI.run(["--config", config, "run", "stats"]).status == 0)
            let after = try CLI.run(["--config", config, "metrics"]).stdout
            #expect(after.contains("pgsweep_job_runs_total{job=\"stats\",\(table),status=\"succeeded\"} 1\n"), "\(after)")
            #expect(!after.contains("pgsweep_job_runs_total{job=\"stats\",\(table),status=\"succeeded\"} 0\n"), "\(after)")
        }
    }

    @Test("metrics reach a real Pushgateway, one group per job; a dead Pushgateway does not fail the run")
    func pushgateway() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let port = try freeLocalPort()
            let gateway = try ProcessRunner.start(
                "/usr/bin/prometheus-pushgateway", ["--web.listen-address=127.0.0.1:\(port)"])
            defer {
                gateway.signal(SIGTERM)
                _ = try? gateway.wait()
            }
            let base = "http://127.0.0.1:\(port)"
            #expect(eventually { Self.get("\(base)/-/ready") != nil }, "pushgateway did not start")

            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(
                database, scratch,
                jobs: "  stats: { type: analyze, schedule: \"@daily\", force: true }\n  other-job: { type: analyze, schedule: \"@daily\" }",
                extra: "metrics:\n  pushgateway: \(base)")
            #expect(try CLI.run(["--config", config, "run", "--all"]).status == 0)
            let metrics = try #require(Self.get("\(base)/metrics"))
            let runs = metrics.split(separator: "\n").filter { $0.hasPrefix("pgsweep_job_runs_total{") }
            #expect(runs.contains {
                $0.contains("job=\"stats\"") && $0.contains("table=\"public.processing_queue\"") && $0.contains("status=\"succeeded\"")
                    && $0.hasSuffix(" 1")
            })
            #expect(runs.contains { $0.contains("job=\"other-job\"") && $0.hasSuffix(" 1") })

            let deadConfig = try RunnerTests.prepare(
                database, scratch, jobs: "  stats: { type: analyze, schedule: \"@daily\" }",
                extra: "metrics:\n  pushgateway: http://127.0.0.1:\(try freeLocalPort())")
            let dead = try CLI.run(["--config", deadConfig, "--log-format", "json", "run", "stats"])
            #expect(dead.status == 0, "\(dead.all)")
            #expect(dead.stderr.contains("could not push metrics"))
        }
    }

    /// The body of a GET, or nil when the request fails.
    static func get(_ address: String) -> String? {
        guard let url = URL(string: address) else { return nil }
        return try? String(contentsOf: url, encoding: .utf8)
    }
}
