import Foundation
import ObjectStore
import Testing
import TestSupport

@Suite("daemon")
struct DaemonTests {
    @Test("SIGTERM during a run: the run is recorded as interrupted and the daemon exits 143 within 10 s")
    func sigtermDuringRun() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(
                database, scratch, jobs: "  stats: { type: analyze, schedule: \"* * * * *\", force: true, starting_deadline: 10m }",
                extra: "  lock_timeout: 120s")
            // The daemon's ANALYZE waits on this lock, so SIGTERM arrives mid-statement.
            let blocker = try RunnerTests.blockAnalyze(database)
            defer { _ = try? blocker.execute("ROLLBACK") }
            let daemon = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "daemon"])
            let monitor = try database.connect()
            #expect(try eventually { try RunnerTests.runs(monitor).first?.status == "running" })
            let sent = Date()
            daemon.signal(SIGTERM)
            #expect(eventually(within: 10) { daemon.hasExited }, "daemon still running 10 s after SIGTERM")
            let output = try daemon.wait()
            #expect(Date().timeIntervalSince(sent) < 10)
            #expect(output.status == 143, "\(output.all)")
            let runs = try RunnerTests.runs(monitor)
            #expect(runs.map(\.status) == ["interrupted"])
            let finished = try monitor.query("SELECT finished_at IS NOT NULL FROM pgsweep.job_runs")
            #expect(try finished.first?.decode(Bool.self, at: 0) == true)
        }
    }

    @Test("SIGHUP reloads the configuration; an invalid one is refused and the old one kept; SIGINT exits 130")
    func sighupReloads() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(database, scratch, jobs: "  a: { type: analyze, schedule: \"0 0 1 1 *\" }")
            let original = try String(contentsOfFile: config, encoding: .utf8)
            let daemon = try ProcessRunner.start(
                RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "daemon"])
            #expect(eventually { daemon.stderrSoFar.contains("daemon started") })

            try (original + "\n  b: { type: nonsense, schedule: \"@daily\" }\n").write(toFile: config, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(eventually { daemon.stderrSoFar.contains("new configuration refused") })

            try (original + "\n  b: { type: analyze, schedule: \"@daily\" }\n").write(toFile: config, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(eventually { daemon.stderrSoFar.contains("\"msg\":\"configuration reloaded\"") })
            #expect(daemon.stderrSoFar.contains("\"jobs\":\"2\"") || daemon.stderrSoFar.contains("\"jobs\":2"))

            daemon.signal(SIGINT)
            #expect(eventually(within: 10) { daemon.hasExited })
            #expect(try daemon.wait().status == 130)
        }
    }

    @Test("metrics.listen: the daemon serves /metrics (promtool-valid, cached) and /healthz; other paths are 404")
    func servesMetrics() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let port = try freeLocalPort()
            let config = try RunnerTests.prepare(
                database, scratch, jobs: "  archive: { type: archive, schedule: \"0 3 * * *\" }",
                extra: "archive:\n  directory: \(scratch.file("archive"))\nmetrics:\n  listen: 127.0.0.1:\(port)\n  cache: 1h")
            try QueueFixture.load(try database.connect(), count: 1_000)
            let daemon = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "daemon"])
            defer {
                daemon.signal(SIGKILL)
                _ = try? daemon.wait()
            }
            let client = try HTTPClient()
            let origin = "http://127.0.0.1:\(port)"
            var health: HTTPResponse?
            #expect(eventually { health = try? client.send(HTTPRequest(method: "GET", origin: origin, path: "/healthz")); return health != nil })
            #expect(health?.status == 200)
            #expect(health?.text == "ok\n")
            let metrics = try client.send(HTTPRequest(method: "GET", origin: origin, path: "/metrics"))
            #expect(metrics.status == 200)
            #expect(metrics.text.contains("pgsweep_queue_rows{table=\"public.processing_queue\""), "\(metrics.text)")
            try metrics.text.write(toFile: scratch.file("scrape.prom"), atomically: true, encoding: .utf8)
            let check = try ProcessRunner.run("/bin/bash", ["-c", "promtool check metrics < \"$0\"", scratch.file("scrape.prom")])
            #expect(check.status == 0, "\(check.all)")
            // Within metrics.cache a scrape gets the same answer, whatever changed meanwhile.
            try database.connect().execute("DELETE FROM processing_queue")
            #expect(try client.send(HTTPRequest(method: "GET", origin: origin, path: "/metrics")).text == metrics.text)
            #expect(try client.send(HTTPRequest(method: "GET", origin: origin, path: "/other")).status == 404)
            daemon.signal(SIGTERM)
            #expect(eventually(within: 10) { daemon.hasExited })
        }
    }
}
