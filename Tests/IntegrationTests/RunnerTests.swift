import Foundation
import LibPQ
import Testing
import TestSupport

/// `run` against a real server: due logic, locks between runners, the run table.
@Suite("Running jobs")
struct RunnerTests {
    /// A database with the queue table, pgsweep's schema, and a configuration file.
    static func prepare(_ database: TestDatabase, _ scratch: ScratchFolder, jobs: String, extra: String = "") throws -> String {
        let config = try database.writeConfig(
            """
            \(extra)
            jobs:
            \(jobs)
            """, in: scratch.path)
        let apply = try CLI.run(["--config", config, "schema", "apply"])
        #expect(apply.status == 0, "\(apply.all)")
        return config
    }

    static func runs(_ connection: Connection, job: String? = nil) throws -> [(status: String, scheduled: Date?, error: String?)] {
        try connection.query(
            "SELECT status, scheduled_for, error FROM pgsweep.job_runs WHERE $1::text IS NULL OR job = $1 ORDER BY id", [job]
        ).map { (try $0.decode(String.self, at: 0)!, try $0.decode(Date.self, at: 1), try $0.decode(String.self, at: 2)) }
    }

    /// Opens a transaction holding a lock that makes ANALYZE of the queue table wait.
    static func blockAnalyze(_ database: TestDatabase) throws -> Connection {
        let blocker = try database.connect()
        try blocker.execute("BEGIN")
        try blocker.execute("LOCK TABLE processing_queue IN SHARE UPDATE EXCLUSIVE MODE")
        return blocker
    }

    static let newYear = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    @Test("four runners started together run a due job once; the others record skipped")
    func concurrentRunners() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(
                database, scratch,
                jobs: "  stats: { type: analyze, schedule: \"0 0 1 1 *\", force: true, starting_deadline: 5000d }",
                extra: "  lock_timeout: 120s")  // continues the database: block writeConfig starts
            // The winner's ANALYZE waits on this lock until the losers have all finished.
            let blocker = try Self.blockAnalyze(database)
            let processes = try (0..<4).map { _ in
                try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "--due"])
            }
            #expect(eventually(within: 60) { processes.filter(\.hasExited).count >= 3 })
            try blocker.execute("ROLLBACK")
            let outputs = try processes.map { try $0.wait() }
            for output in outputs { #expect(output.status == 0, "\(output.all)") }

            let runs = try Self.runs(try database.connect(), job: "stats")
            #expect(runs.filter { $0.status == "succeeded" }.count == 1)
            #expect(runs.filter { $0.status == "skipped" }.count == 3)
            #expect(runs.count == 4)
            #expect(runs.allSatisfy { $0.scheduled == Self.newYear })
            #expect(runs.filter { $0.status == "skipped" }.allSatisfy { $0.error == "another runner holds this job" })
        }
    }

    @Test("a runner killed mid-run leaves a running row that the next runner marks interrupted")
    func killedRunnerIsMarkedInterrupted() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, jobs: "  stats: { type: analyze, schedule: \"@daily\", force: true }")
            let blocker = try Self.blockAnalyze(database)
            let victim = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "stats"])
            let monitor = try database.connect()
            #expect(try eventually { try Self.runs(monitor).first?.status == "running" })
            victim.signal(SIGKILL)
            #expect(try victim.wait().status == 128 + SIGKILL)
            try blocker.execute("ROLLBACK")
            #expect(try Self.runs(monitor).map(\.status) == ["running"])

            let next = try CLI.run(["--config", config, "run", "stats"])
            #expect(next.status == 0, "\(next.all)")
            let runs = try Self.runs(monitor)
            #expect(runs.map(\.status) == ["interrupted", "succeeded"])
            #expect(runs[0].error?.contains("stopped without recording an end") == true)
        }
    }

    @Test("a due job runs once per fire time; a fire missed past the deadline is skipped, not run late")
    func dueLogic() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(
                database, scratch,
                jobs: """
                  late: { type: analyze, schedule: "0 0 1 1 *" }
                  ontime: { type: analyze, schedule: "0 0 1 1 *", starting_deadline: 5000d, force: true }
                  off: { type: analyze, schedule: "* * * * *", enabled: false }
                """)
            for _ in 0..<2 {
                let output = try CLI.run(["--config", config, "run", "--due"])
                #expect(output.status == 0, "\(output.all)")
            }
            let connection = try database.connect()
            let late = try Self.runs(connection, job: "late")
            #expect(late.map(\.status) == ["skipped"])
            #expect(late.first?.error?.contains("more than starting_deadline 1h") == true)
            #expect(try Self.runs(connection, job: "ontime").map(\.status) == ["succeeded"])
            #expect(try Self.runs(connection, job: "off").isEmpty)
            // A manual run of a disabled job still runs, with no fire time.
            #expect(try CLI.run(["--config", config, "run", "off"]).status == 0)
            let manual = try Self.runs(connection, job: "off")
            #expect(manual.map(\.status) == ["succeeded"])
            #expect(manual.first?.scheduled == nil)
        }
    }

    @Test("--dry-run changes nothing and records nothing")
    func dryRun() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, jobs: "  stats: { type: analyze, schedule: \"@daily\", force: true }")
            let connection = try database.connect()
            // schema apply analyzed the table once (its flow/status statistics); no more after this.
            func analyzeCount() throws -> Int64 {
                try connection.query("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'processing_queue'")[0]
                    .decode(Int64.self, at: 0) ?? -1
            }
            let analyzedBefore = try analyzeCount()
            let output = try CLI.run(["--config", config, "--log-format", "json", "run", "--all", "--dry-run"])
            #expect(output.status == 0, "\(output.all)")
            #expect(output.stderr.contains("\"dry_run\":\"true\""))
            #expect(output.stderr.contains("\"detail.would_analyze\":\"true\""))
            #expect(try Self.runs(connection).isEmpty)
            #expect(try analyzeCount() == analyzedBefore)
        }
    }

    @Test("every log line is JSON with ts, level and msg; each job ends with one summary line")
    func jsonLogs() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, jobs: "  stats: { type: analyze, schedule: \"@daily\", force: true }")
            let output = try CLI.run(["--config", config, "--log-format", "json", "run", "stats"])
            #expect(output.status == 0)
            let lines = output.stderr.split(separator: "\n")
            #expect(!lines.isEmpty)
            var summaries: [[String: Any]] = []
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
                #expect(object["ts"] is String && object["level"] is String && object["msg"] is String)
                if object["msg"] as? String == "job finished" { summaries.append(object) }
            }
            #expect(summaries.count == 1)
            let summary = try #require(summaries.first)
            #expect(summary["job"] as? String == "stats")
            #expect(summary["run_id"] is NSNumber)
            #expect(summary["status"] as? String == "succeeded")
            #expect(summary["rows"] is NSNumber && summary["bytes"] is NSNumber && summary["batches"] is NSNumber)
            #expect(summary["duration_ms"] is NSNumber)
        }
    }

    @Test("history lists runs newest first, filtered and limited, as text or JSON")
    func history() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(
                database, scratch,
                jobs: "  a: { type: analyze, schedule: \"@daily\" }\n  b: { type: analyze, schedule: \"@daily\" }")
            for job in ["a", "b", "a"] { #expect(try CLI.run(["--config", config, "run", job]).status == 0) }
            let json = try CLI.run(["--config", config, "history", "--job", "a", "--limit", "5", "--json"])
            #expect(json.status == 0, "\(json.all)")
            let runs = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            #expect(runs.count == 2)
            #expect(runs.allSatisfy { $0["job"] as? String == "a" && $0["status"] as? String == "succeeded" })
            let text = try CLI.run(["--config", config, "history", "--limit", "1"])
            #expect(text.stdout.split(separator: "\n").count == 2)
            #expect(try CLI.run(["--config", config, "history", "--limit", "0"]).status == 2)
        }
    }

    @Test("runs older than history_retention are pruned; running rows are kept")
    func retention() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(
                database, scratch, jobs: "  a: { type: analyze, schedule: \"@daily\" }", extra: "history_retention: 7d")
            let connection = try database.connect()
            try connection.execute(
                """
                INSERT INTO pgsweep.job_runs (job, job_type, status, started_at, host, pgsweep_version)
                VALUES ('old', 'analyze', 'succeeded', now() - interval '8 days', 'h', 'v'),
                       ('old', 'analyze', 'running', now() - interval '8 days', 'h', 'v'),
                       ('recent', 'analyze', 'failed', now() - interval '6 days', 'h', 'v')
                """)
            // The running row's runner is alive: it holds the job's lock.
            let runner = try database.connect()
            try runner.execute("SELECT pg_advisory_lock(hashtext('pgsweep:pgsweep:public.processing_queue'), hashtext('old'))")
            #expect(try CLI.run(["--config", config, "run", "a"]).status == 0)
            let left = try connection.query("SELECT job || ':' || status FROM pgsweep.job_runs ORDER BY id")
                .map { try $0.decode(String.self, at: 0)! }
            #expect(left == ["old:running", "recent:failed", "a:succeeded"])
            // Gone, its runner leaves the row to the next run, which ends it (interrupted, at its
            // start eight days ago) and prunes it with the rest of the old history.
            runner.close()
            #expect(try CLI.run(["--config", config, "run", "a"]).status == 0)
            let after = try connection.query("SELECT job || ':' || status FROM pgsweep.job_runs ORDER BY id")
                .map { try $0.decode(String.self, at: 0)! }
            #expect(after == ["recent:failed", "a:succeeded", "a:succeeded"])
        }
    }

    @Test("an unknown job name is a usage error with a suggestion; a missing schema is explained")
    func usageErrors() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try database.writeConfig("jobs:\n  analyze: { type: analyze, schedule: \"@daily\" }", in: scratch.path)
            let unknown = try CLI.run(["--config", config, "run", "analyse"])
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("did you mean \"analyze\"?"))
            #expect(try CLI.run(["--config", config, "run"]).status == 2)
            #expect(try CLI.run(["--config", config, "run", "--due", "--all"]).status == 2)
            let noSchema = try CLI.run(["--config", config, "run", "analyze"])
            #expect(noSchema.status == 1)
            #expect(noSchema.stderr.contains("run `pgsweep schema apply` first"))
        }
    }

    @Test("two tables sharing pgsweep's schema: a due job of the same name runs for each, and history shows each table its own runs")
    func tablesShareTheSchema() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try connection.execute("CREATE SCHEMA tenant")
            try connection.execute("CREATE TABLE tenant.processing_queue (LIKE public.processing_queue INCLUDING ALL)")
            var configs: [String] = []
            for (folder, table) in [("a", "processing_queue"), ("b", "tenant.processing_queue")] {
                try FileManager.default.createDirectory(atPath: scratch.file(folder), withIntermediateDirectories: true)
                let config = try database.writeConfig(
                    "table: \(table)\njobs:\n  stats: { type: analyze, schedule: \"0 0 1 1 *\", force: true, starting_deadline: 5000d }",
                    in: scratch.file(folder))
                #expect(try CLI.run(["--config", config, "schema", "apply"]).status == 0)
                configs.append(config)
            }
            for config in configs {
                let output = try CLI.run(["--config", config, "run", "--due"])
                #expect(output.status == 0, "\(output.all)")
            }
            let runs = try connection.query("SELECT table_name, status FROM pgsweep.job_runs ORDER BY id").map {
                "\(try $0.require(String.self, "table_name")) \(try $0.require(String.self, "status"))"
            }
            #expect(runs == [#""public"."processing_queue" succeeded"#, #""tenant"."processing_queue" succeeded"#])
            for config in configs {
                let history = try CLI.run(["--config", config, "history", "--json"])
                let items = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]] ?? []
                #expect(items.count == 1, "\(history.stdout)")
            }
        }
    }
}
