import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

/// What a careful user meets first: names checked, columns named, indexes recognised by
/// what they are, output that lines up and reads one way.
@Suite("Checks up front")
struct UpFrontCheckTests {
    static let jobs = """
          reclaim: { type: reclaim_orphans, schedule: "@hourly" }
          archive: { type: archive, schedule: "@daily" }
          stats: { type: analyze, schedule: "@daily", force: true }
        """

    @Test("a table missing a column a job needs: doctor and schema check name it per job; the job exits 1 saying so, never a raw SQL error")
    func missingColumn() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 500)
            try connection.execute(
                """
                CREATE TABLE thin AS SELECT id, flow_name, status, payload, retry_count, error_message, flow_instance_id,
                                            created_at, claimed_at, completed_at FROM processing_queue
                """)
            try connection.execute("ALTER TABLE thin ADD PRIMARY KEY (id)")
            let config = try RunnerTests.prepare(
                database, scratch, jobs: Self.jobs, extra: "table: thin\narchive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB")
            let check = try CLI.run(["--config", config, "schema", "check"])
            #expect(check.status == 1)
            #expect(check.stdout.contains("job reclaim: MISSING column(s) updated_at"), "\(check.stdout)")
            #expect(check.stdout.contains("job archive: columns present"), "\(check.stdout)")
            let doctor = try CLI.run(["--config", config, "doctor"])
            #expect(doctor.status == 1)
            #expect(doctor.stdout.contains("column(s) updated_at, which public.thin does not have"), "\(doctor.stdout)")

            let before = try connection.query("SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM thin t")[0].require(String.self, "h")
            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "reclaim"])
            #expect(run.status == 1, "\(run.all)")
            #expect(run.stderr.contains(#"job reclaim needs column \"updated_at\", which table public.thin does not have; nothing was changed"#), "\(run.stderr)")
            #expect(!run.stderr.contains("SQLSTATE"))
            let finished = try #require(run.stderr.split(separator: "\n").first { $0.contains("job finished") })
            #expect(finished.contains("\"level\":\"error\""), "a run that ends with an error is logged as one: \(finished)")
            #expect(try connection.query("SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM thin t")[0].require(String.self, "h") == before)
            // The jobs that need nothing missing still run.
            #expect(try CLI.run(["--config", config, "run", "archive", "stats"]).status == 0)

            // history: the whole error on request, a short one by default.
            let short = try CLI.run(["--config", config, "history", "--job", "reclaim"])
            #expect(short.stdout.contains("…"), "\(short.stdout)")
            #expect(!short.stdout.contains("nothing was changed"))
            let wide = try CLI.run(["--config", config, "history", "--job", "reclaim", "--wide"])
            #expect(wide.stdout.contains("which table public.thin does not have; nothing was changed"), "\(wide.stdout)")
        }
    }

    @Test("a table name that resolves to a system catalog or a view is refused with exit 2, and nothing runs on it")
    func notAQueueTable() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try connection.execute("CREATE VIEW recent AS SELECT * FROM processing_queue")
            for (table, phrase) in [("pg_class", "resolves to pg_catalog.pg_class, a system catalog"), ("recent", "which is a view")] {
                let folder = scratch.file(table)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let config = try database.writeConfig("table: \(table)\njobs:\n  stats: { type: analyze, schedule: \"@daily\", force: true }", in: folder)
                #expect(try CLI.run(["--config", config, "config", "check"]).status == 0, "config check cannot know what a name resolves to")
                let run = try CLI.run(["--config", config, "run", "stats"])
                #expect(run.status == 2, "\(run.all)")
                #expect(run.stderr.contains(phrase), "\(run.stderr)")
                let doctor = try CLI.run(["--config", config, "doctor"])
                #expect(doctor.status == 1)
                #expect(doctor.stdout.contains(phrase), "\(doctor.stdout)")
            }
            let analyzed = try connection.query("SELECT last_analyze FROM pg_stat_sys_tables WHERE relname = 'pg_class'")[0]
            #expect(try analyzed.decode(Date.self, "last_analyze") == nil)
        }
    }

    @Test("schema apply takes an index of the same definition under another name as present; check says so and explain uses it")
    func equivalentIndex() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 50_000)
            try connection.execute("CREATE INDEX our_cleanup ON processing_queue (completed_at, created_at, status)")
            try connection.execute("CREATE INDEX our_pending ON processing_queue (created_at) WHERE status = 'pending'")
            // A look-alike that is not the same: another predicate.
            try connection.execute("CREATE INDEX almost_orphans ON processing_queue (claimed_at) WHERE status = 'processing' AND retry_count > 1")
            let config = try RunnerTests.prepare(
                database, scratch, jobs: "  archive: { type: archive, schedule: \"@daily\", batch_size: 1000 }",
                extra: "archive:\n  directory: \(scratch.file("archive"))")
            let names = Set(try connection.query(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'processing_queue'::regclass"
            ).map { try $0.require(String.self, "relname") })
            #expect(!names.contains("idx_processing_queue_cleanup_timestamps") && !names.contains("idx_processing_queue_pending"))
            #expect(names.contains("idx_processing_queue_processing_claimed_at"))
            let check = try CLI.run(["--config", config, "schema", "check"])
            #expect(check.status == 0, "\(check.all)")
            #expect(
                check.stdout.split(separator: "\n").contains { $0.contains("idx_processing_queue_cleanup_timestamps") && $0.hasSuffix("valid (as our_cleanup)") },
                "\(check.stdout)")
            #expect(check.stdout.contains("valid (as our_pending)"))
            let explain = try CLI.run(["--config", config, "explain", "archive"])
            #expect(explain.status == 0, "\(explain.all)")
            #expect(explain.stdout.contains("ok: uses our_cleanup"), "\(explain.stdout)")
        }
    }

    @Test("the archive's progress total is a count through the index, not the planner's guess")
    func progressTotal() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 5_000)
            // Stale statistics: the planner's estimate is far from the truth.
            try connection.execute("UPDATE processing_queue SET completed_at = now() - interval '20 days', status = 'completed' WHERE id % 5 = 0")
            let config = try ConfigLoader.parse(
                "archive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB\njobs:\n  archive: { type: archive, schedule: \"@daily\" }",
                file: scratch.file("jobs.yaml"), environment: [:])
            _ = try SchemaManager(config: config, logger: TestLogging.silent).apply(on: connection)
            let expected = try connection.query("SELECT count(*) AS n FROM processing_queue WHERE \(ArchiveTests.archivable)")[0]
                .require(Int64.self, "n")
            let seen = Totals()
            var context = JobContext(
                connection: try database.connect(), logger: TestLogging.silent, table: config.table,
                limits: config.jobs[0].limits, statementTimeout: .seconds(30), lockTimeout: .seconds(5), dryRun: false,
                shutdown: Shutdown(), startedAt: try connection.query("SELECT now() AS now")[0].require(Date.self, "now"))
            context.onEstimate = { rows, estimated in seen.set(rows, estimated) }
            _ = try config.jobs[0].job(config: config).run(context)
            #expect(seen.value?.0 == expected, "counted \(String(describing: seen.value)), expected \(expected)")
            #expect(seen.value?.1 == false)
        }
    }

    @Test("every --json output uses snake_case keys")
    func jsonKeys() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            try QueueFixture.load(try database.connect(), count: 500)
            let config = try RunnerTests.prepare(
                database, scratch, jobs: Self.jobs, extra: "archive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB")
            #expect(try CLI.run(["--config", config, "run", "--all"]).status == 0)
            let commands: [[String]] = [
                ["status", "--json", "--indexes"], ["history", "--json"], ["explain", "--json"], ["archive", "list", "--json"],
                ["archive", "verify", "--json"], ["config", "check", "--json"], ["restore", scratch.file("archive"), "--dry-run", "--json"],
            ]
            for command in commands {
                let output = try CLI.run(["--config", config] + command)
                #expect(output.status == 0, "\(command): \(output.all)")
                let keys = Self.keys(in: try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)))
                #expect(!keys.isEmpty, "\(command)")
                let bad = keys.filter { $0.contains(where: \.isUppercase) }
                #expect(bad.isEmpty, "\(command): \(bad)")
            }
        }
    }

    static func keys(in value: Any) -> Set<String> {
        if let object = value as? [String: Any] {
            return Set(object.keys).union(object.values.flatMap { keys(in: $0) })
        }
        if let array = value as? [Any] { return Set(array.flatMap { keys(in: $0) }) }
        return []
    }

    @Test("status lines up flow names of wide and combining characters; errors start with one prefix")
    func presentation() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(database, scratch, jobs: Self.jobs)
            try database.connect().execute(
                "INSERT INTO processing_queue (flow_name) VALUES ('视频'), ('e\u{301}mile'), ('plain'), ('plain')")
            let status = try CLI.run(["--config", config, "status"])
            #expect(status.status == 0, "\(status.all)")
            let lines = status.stdout.split(separator: "\n").map(String.init)
            // Widest name 5 columns ("plain", "émile", "total"), "视频" takes 4: each is followed by
            // spaces up to column 5, then two more before the counts.
            #expect(lines.contains { $0.hasPrefix("视频   1 ") }, "\(status.stdout)")
            #expect(lines.contains { $0.hasPrefix("e\u{301}mile  1 ") }, "\(status.stdout)")
            #expect(lines.contains { $0.hasPrefix("plain  2 ") }, "\(status.stdout)")

            let unknown = try CLI.run(["--config", config, "run", "no-such-job"])
            #expect(unknown.status == 2)
            #expect(unknown.stderr.hasPrefix("pgsweep: no job named \"no-such-job\""), "\(unknown.stderr)")
            let bad = try CLI.run(["--config", config, "history", "--limit", "0"])
            #expect(bad.status == 2)
            #expect(bad.stderr.hasPrefix("pgsweep: "), "\(bad.stderr)")
        }
    }
}

/// The figure a job reported for its progress total, from whichever thread reported it.
final class Totals: @unchecked Sendable {
    // @unchecked Sendable: the one stored property is read and written under `lock`.
    private let lock = NSLock()
    private var seen: (Int64, Bool)?

    func set(_ rows: Int64, _ estimated: Bool) { lock.withLock { seen = (rows, estimated) } }
    var value: (Int64, Bool)? { lock.withLock { seen } }
}
