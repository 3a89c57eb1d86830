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
            let (daemon, origin) = try Self.serving(database, scratch, cache: "1h", rows: 1_000)
            defer {
                daemon.signal(SIGKILL)
                _ = try? daemon.wait()
            }
            let client = try HTTPClient()
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

extension DaemonTests {
    /// A daemon serving `metrics.listen` on a free port, with `rows` fixture rows in the
    /// queue, and the server's origin (`http://127.0.0.1:PORT`).
    static func serving(_ database: TestDatabase, _ scratch: ScratchFolder, cache: String, rows: Int) throws -> (RunningProcess, String) {
        let port = try freeLocalPort()
        let config = try RunnerTests.prepare(
            database, scratch, jobs: "  archive: { type: archive, schedule: \"0 3 * * *\" }",
            extra: "archive:\n  directory: \(scratch.file("archive"))\nmetrics:\n  listen: 127.0.0.1:\(port)\n  cache: \(cache)")
        try QueueFixture.load(try database.connect(), count: rows)
        let daemon = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "daemon"])
        return (daemon, "http://127.0.0.1:\(port)")
    }

    /// A TCP connection to the daemon's port that sends only what the test says.
    static func rawClient(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw RawClientError(reason: String(cString: strerror(errno)))
        }
        return fd
    }

    /// True when the server closes `fd` within `seconds` (a read returns end of file).
    static func closedByServer(_ fd: Int32, within seconds: Double, dribbling: Bool = false) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if dribbling {
                var byte = UInt8(ascii: "G")
                if write(fd, &byte, 1) < 0 { return true }
            }
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 500) > 0 {
                var buffer = [UInt8](repeating: 0, count: 512)
                if read(fd, &buffer, buffer.count) <= 0 { return true }
            }
        }
        return false
    }

    @Test("idle and dribbling clients hold up no one: /healthz and /metrics answer beside 200 idle connections, each of which is closed at its deadline; HEAD is answered")
    func slowClients() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let (daemon, origin) = try Self.serving(database, scratch, cache: "1s", rows: 100)
            defer {
                daemon.signal(SIGKILL)
                _ = try? daemon.wait()
            }
            let port = Int(origin.split(separator: ":").last ?? "") ?? 0
            // A stall of 10 s fails a request; 200 idle clients answered in turn would hold it for 600 s.
            let client = try HTTPClient(stallTimeout: 10)
            #expect(eventually { (try? client.send(HTTPRequest(method: "GET", origin: origin, path: "/healthz")))?.status == 200 })
            let idle = try (0..<200).map { _ in try Self.rawClient(port: port) }
            defer { idle.forEach { close($0) } }
            let dribbler = try Self.rawClient(port: port)
            defer { close(dribbler) }
            var byte = UInt8(ascii: "G")
            _ = write(dribbler, &byte, 1)

            #expect(try client.send(HTTPRequest(method: "GET", origin: origin, path: "/healthz")).status == 200)
            #expect(try client.send(HTTPRequest(method: "GET", origin: origin, path: "/metrics")).text.contains("pgsweep_queue_rows"))
            let head = try client.send(HTTPRequest(method: "HEAD", origin: origin, path: "/metrics"))
            #expect(head.status == 200)
            #expect(head.text.isEmpty)
            // Each is dropped at its request-head deadline, the dribbler however it paces its bytes.
            #expect(Self.closedByServer(dribbler, within: 20, dribbling: true))
            #expect(Self.closedByServer(idle[0], within: 20))
            #expect(Self.closedByServer(idle[199], within: 20))
            #expect(try client.send(HTTPRequest(method: "GET", origin: origin, path: "/healthz")).status == 200)
            daemon.signal(SIGTERM)
            #expect(eventually(within: 10) { daemon.hasExited })
        }
    }
}

/// A raw test client could not connect.
struct RawClientError: Error {
    var reason: String
}
