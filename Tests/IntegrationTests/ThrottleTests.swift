import Foundation
import LibPQ
import Testing
import TestSupport

/// Throttling against real replication: a streaming standby whose replay is paused, a
/// replication slot that loses its reserved WAL, a user's query; and a run on a standby.
@Suite("Throttling")
struct ThrottleTests {
    /// A configuration archiving with batches of 500 rows and `throttle` as the defaults' throttle.
    static func prepare(
        _ database: TestDatabase, _ scratch: ScratchFolder, throttle: String, job: String = "", extra: String = ""
    ) throws -> String {
        try RunnerTests.prepare(
            database, scratch,
            jobs: "  archive: { type: archive, schedule: \"0 3 * * *\", batch_size: 500\(job) }",
            extra: "archive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB\ndefaults:\n  throttle: \(throttle)\n\(extra)")
    }

    static func count(_ connection: Connection, _ sql: String) throws -> Int64 {
        try connection.query(sql)[0].decode(Int64.self, at: 0) ?? 0
    }

    /// The last run's throttled seconds and what it was throttled by.
    static func lastRun(_ connection: Connection) throws -> (status: String, seconds: Double, by: [String: Any]) {
        let row = try connection.query(
            "SELECT status, throttled_seconds, throttled_by::text FROM pgsweep.job_runs ORDER BY id DESC LIMIT 1")[0]
        let by = try JSONSerialization.jsonObject(with: Data((try row.decode(String.self, at: 2) ?? "{}").utf8)) as? [String: Any] ?? [:]
        return (try row.decode(String.self, at: 0) ?? "", try row.decode(Double.self, at: 1) ?? 0, by)
    }

    /// Loads 3,000 fixture rows, waits until the standby has replayed them, then pauses its
    /// replay. Returns the archivable rows and a connection to the standby.
    static func loadThenPauseReplay(
        _ connection: Connection, primary: TestCluster, standby: TestCluster, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (archivable: Int64, replica: Connection) {
        // No autovacuum on the table: its VACUUM of the new rows would write WAL of its own
        // after replay is paused, and the lag could pass the limit before the first batch.
        try connection.execute("ALTER TABLE processing_queue SET (autovacuum_enabled = false)")
        try QueueFixture.load(connection, count: 3_000)
        let archivable = try count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)")
        #expect(try waitCaughtUp(try primary.connect()), sourceLocation: sourceLocation)
        let replica = try standby.connect()
        try replica.execute("SELECT pg_wal_replay_pause()")
        // A pause is only requested until the standby's startup process reaches its next WAL
        // record; an idle standby (as on PostgreSQL 18) may then replay more before it stops.
        // A record of no consequence from the primary makes it stop now, and the test waits
        // for the standby to say it has.
        let writer = try primary.connect()
        #expect(try eventually {
            try writer.execute("SELECT pg_logical_emit_message(false, 'pgsweep-tests', 'pause')")
            return try replica.query("SELECT pg_get_wal_replay_pause_state() AS state")[0].decode(String.self, "state") == "paused"
        }, "the standby never paused its replay", sourceLocation: sourceLocation)
        return (archivable, replica)
    }

    /// A primary with a streaming standby of its own.
    static func primaryWithStandby() throws -> (primary: TestCluster, standby: TestCluster) {
        let primary = try TestCluster.startAnother()
        let standby = try primary.startStandby()
        return (primary, standby)
    }

    static func waitCaughtUp(_ primary: Connection) throws -> Bool {
        try eventually {
            try count(primary, "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn = pg_current_wal_lsn()") == 1
        }
    }

    @Test("a paused standby holds the job after its first batch; replay resumed, it finishes; the run records the pause")
    func replicaLag() async throws {
        let (primary, standby) = try Self.primaryWithStandby()
        try await TestDatabase.with(queueTable: true, cluster: primary) { database in
            let scratch = try ScratchFolder()
            // 16kB: well under the WAL of one 500-row batch, so the job pauses after its first.
            let config = try Self.prepare(database, scratch, throttle: "{ check_interval: 100ms, max_replica_lag_bytes: 16kB }")
            let connection = try database.connect()
            let (archivable, replica) = try Self.loadThenPauseReplay(connection, primary: primary, standby: standby)

            let run = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "archive"], environment: CLI.environment())
            #expect(eventually { run.stderrSoFar.contains("\"msg\":\"throttling\"") || run.hasExited }, "\(run.stderrSoFar)")
            #expect(!run.hasExited)
            #expect(run.stderrSoFar.contains("\"throttle.signal\":\"replica_lag_bytes\""), "\(run.stderrSoFar)")
            // At most the first batch committed (none, when the server's own WAL since the pause
            // already passed the limit); the rest wait in the table. (A pass's last batch may be
            // short, so the ledger's row counts say what left, not batches × 500.)
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches") <= 1)
            let committed = try Self.count(connection, "SELECT coalesce(sum(row_count), 0) FROM pgsweep.archive_batches")
            #expect(committed == 0 || committed == 500, "\(committed)")
            #expect(try Self.count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)") == archivable - committed)

            try replica.execute("SELECT pg_wal_replay_resume()")
            let output = try run.wait()
            #expect(output.status == 0, "\(output.all)")
            #expect(output.stderr.contains("\"msg\":\"throttling ended\""), "\(output.stderr)")
            #expect(try Self.count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)") == 0)
            let last = try Self.lastRun(connection)
            #expect(last.status == "succeeded")
            #expect(last.seconds > 0)
            #expect((last.by["replica_lag_bytes"] as? Double ?? 0) > 0, "\(last.by)")
        }
    }

    @Test("max_runtime reached while throttled: the run ends with what it committed, recorded as throttled and by what")
    func maxRuntimeWhileThrottled() async throws {
        let (primary, standby) = try Self.primaryWithStandby()
        try await TestDatabase.with(queueTable: true, cluster: primary) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(
                database, scratch, throttle: "{ check_interval: 100ms, max_replica_lag_bytes: 64kB }", job: ", max_runtime: 2s")
            let connection = try database.connect()
            let (archivable, replica) = try Self.loadThenPauseReplay(connection, primary: primary, standby: standby)
            defer { _ = try? replica.execute("SELECT pg_wal_replay_resume()") }

            let output = try CLI.run(["--config", config, "run", "archive"])
            #expect(output.status == 0, "\(output.all)")
            let committed = try Self.count(connection, "SELECT coalesce(sum(row_count), 0) FROM pgsweep.archive_batches")
            #expect(committed < archivable)
            #expect(try Self.count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)") == archivable - committed)
            // Held from its start (the server's own WAL since the pause past the limit already),
            // the run did nothing and says so.
            let last = try Self.lastRun(connection)
            #expect(last.status == (committed == 0 ? "throttled" : "succeeded"), "\(committed) rows committed")
            #expect(last.seconds > 0)
            #expect(last.by["ended_by"] as? String == "replica_lag_bytes", "\(last.by)")
        }
    }

    @Test("a replication slot whose WAL is no longer reserved pauses the job; dropped, the job goes on")
    func unreservedSlot() async throws {
        let cluster = try TestCluster.startAnother()
        let admin = try cluster.connect()
        try admin.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
        try admin.execute("SELECT pg_reload_conf()")
        try admin.execute("SELECT pg_create_physical_replication_slot('lagging', true)")
        try admin.execute("CREATE TABLE wal_filler (x text)")
        // Past the slot's 1MB of kept WAL, it is unreserved (until a checkpoint removes the WAL: lost).
        #expect(try eventually(within: 60) {
            try admin.execute("INSERT INTO wal_filler SELECT repeat('x', 1000) FROM generate_series(1, 2000)")
            try admin.execute("SELECT pg_switch_wal()")
            return try Self.count(admin, "SELECT count(*) FROM pg_replication_slots WHERE wal_status = 'unreserved'") == 1
        })
        try await TestDatabase.with(queueTable: true, cluster: cluster) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, throttle: "{ check_interval: 100ms }", job: ", max_runtime: 1s")
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 1_000)
            let held = try CLI.run(["--config", config, "run", "archive"])
            #expect(held.status == 0, "\(held.all)")
            #expect(held.stderr.contains("\"throttle.signal\":\"slot_unreserved\""), "\(held.stderr)")
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches") == 0)
            #expect(try Self.lastRun(connection).by["ended_by"] as? String == "slot_unreserved")

            try admin.execute("SELECT pg_drop_replication_slot('lagging')")
            let free = try CLI.run(["--config", config, "run", "archive"])
            #expect(free.status == 0, "\(free.all)")
            #expect(try Self.count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)") == 0)
        }
    }

    @Test("max_slot_wal_keep_size 512MB and a healthy slot: the default slot limit adapts and the job runs; a fixed 1GB is named by doctor as never met, and a run it holds throughout is recorded throttled")
    func slotLimitAdaptsToTheServer() async throws {
        let cluster = try TestCluster.startAnother()
        let admin = try cluster.connect()
        try admin.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '512MB'")
        try admin.execute("SELECT pg_reload_conf()")
        try admin.execute("SELECT pg_create_physical_replication_slot('healthy', true)")
        #expect(try eventually { try Self.count(admin, "SELECT count(*) FROM pg_settings WHERE name = 'max_slot_wal_keep_size' AND setting = '512'") == 1 })
        try await TestDatabase.with(queueTable: true, cluster: cluster) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 1_000)
            let adaptive = try Self.prepare(database, scratch, throttle: "{ check_interval: 100ms }", job: ", max_runtime: 5s")
            let run = try CLI.run(["--config", adaptive, "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            #expect(try Self.count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)") == 0)
            #expect(try Self.lastRun(connection).status == "succeeded")

            try QueueFixture.load(connection, count: 1_000)
            let fixed = try Self.prepare(
                database, scratch, throttle: "{ check_interval: 100ms, min_slot_safe_wal_size: 1GB }", job: ", max_runtime: 1s")
            let doctor = try CLI.run(["--config", fixed, "doctor"])
            #expect(doctor.status == 1, "\(doctor.all)")
            #expect(doctor.stdout.contains("min_slot_safe_wal_size 1GB can never be met"), "\(doctor.stdout)")
            let held = try CLI.run(["--config", fixed, "run", "archive"])
            #expect(held.status == 0, "\(held.all)")
            #expect(try Self.lastRun(connection).status == "throttled")
            let history = try CLI.run(["--config", fixed, "history", "--json", "--limit", "1"])
            let runs = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(runs.first?["status"] as? String == "throttled", "\(history.stdout)")
            #expect((runs.first?["throttled_seconds"] as? Double ?? 0) > 0, "\(history.stdout)")
            #expect((runs.first?["throttled_by"] as? [String: Any])?["ended_by"] as? String == "slot_safe_wal_size", "\(history.stdout)")
        }
    }

    @Test("throttle.query pauses the job while it returns true and lets it go when false")
    func query() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try connection.execute("CREATE TABLE hold (held boolean NOT NULL)")
            try connection.execute("INSERT INTO hold VALUES (true)")
            let config = try Self.prepare(
                database, scratch, throttle: "{ check_interval: 100ms, query: \"SELECT held FROM hold\" }",
                extra: "metrics:\n  textfile: \(scratch.file("pgsweep.prom"))")
            try QueueFixture.load(connection, count: 1_000)
            let run = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "archive"], environment: CLI.environment())
            #expect(eventually { run.stderrSoFar.contains("\"msg\":\"throttling\"") || run.hasExited }, "\(run.stderrSoFar)")
            #expect(run.stderrSoFar.contains("\"throttle.signal\":\"query\""), "\(run.stderrSoFar)")
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches") == 0)
            let status = try CLI.run(["--config", config, "status"])
            #expect(status.stdout.contains("throttle signals (archive)"), "\(status.all)")
            #expect(status.stdout.split(separator: "\n").contains { $0.hasPrefix("query") && $0.contains("THROTTLING") }, "\(status.stdout)")
            let dry = try CLI.run(["--config", config, "--log-format", "json", "run", "archive", "--dry-run"])
            #expect(dry.status == 0, "\(dry.all)")
            #expect(dry.stderr.contains("\"msg\":\"would start throttled\""), "\(dry.stderr)")
            try connection.execute("UPDATE hold SET held = false")
            let output = try run.wait()
            #expect(output.status == 0, "\(output.all)")
            #expect(try Self.count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)") == 0)
            #expect((try Self.lastRun(connection).by["query"] as? Double ?? 0) > 0)
            let metrics = try String(contentsOfFile: scratch.file("pgsweep.prom"), encoding: .utf8)
            #expect(metrics.contains("pgsweep_job_throttled_seconds_total{job=\"archive\",table=\"public.processing_queue\",reason=\"query\"} 0."), "\(metrics)")
        }
    }

    @Test("throttle.query runs READ ONLY under its own timeout: one that hangs or writes is reported unreadable and the job goes on", arguments: [
        "SELECT pg_sleep(3600) IS NOT NULL", "WITH w AS (INSERT INTO hold VALUES (true) RETURNING held) SELECT bool_or(held) FROM w",
    ])
    func queryReadOnlyAndBounded(query: String) async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try connection.execute("CREATE TABLE hold (held boolean NOT NULL)")
            let config = try Self.prepare(database, scratch, throttle: "{ check_interval: 100ms, query: \"\(query)\" }", job: ", max_runtime: 60s")
            try QueueFixture.load(connection, count: 1_000)
            let run = try ProcessRunner.start(
                RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "run", "archive"], environment: CLI.environment())
            let finished = eventually(within: 50) { run.hasExited }
            if !finished { run.signal(SIGKILL) }
            let output = try run.wait()
            #expect(finished, "the run was still waiting on throttle.query: \(output.all)")
            #expect(output.status == 0, "\(output.all)")
            #expect(output.stderr.contains("a throttle signal cannot be read"), "\(output.stderr)")
            #expect(try Self.count(connection, "SELECT count(*) FROM hold") == 0)
            #expect(try Self.count(connection, "SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)") == 0)
        }
    }

    @Test("on a standby, run --all exits 0 with every job skipped and nothing written")
    func onStandby() async throws {
        let (primary, standby) = try Self.primaryWithStandby()
        try await TestDatabase.with(queueTable: true, cluster: primary) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(
                database, scratch,
                jobs: """
                      archive: { type: archive, schedule: "0 3 * * *" }
                      reclaim: { type: reclaim_orphans, schedule: "*/5 * * * *" }
                      analyze: { type: analyze, schedule: "30 3 * * *", force: true }
                    """,
                extra: "archive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB")
            try QueueFixture.load(try database.connect(), count: 500)
            #expect(try Self.waitCaughtUp(try primary.connect()))
            let onStandby = scratch.file("standby.yaml")
            try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(of: database.conninfo, with: standby.conninfo(database: database.name))
                .write(toFile: onStandby, atomically: true, encoding: .utf8)
            let output = try CLI.run(["--config", onStandby, "--log-format", "json", "run", "--all"])
            #expect(output.status == 0, "\(output.all)")
            #expect(output.stderr.components(separatedBy: "\"msg\":\"job skipped\"").count - 1 == 3, "\(output.stderr)")
            #expect(output.stderr.contains("the server is a standby"), "\(output.stderr)")
            let doctor = try CLI.run(["--config", onStandby, "doctor"])
            #expect(doctor.stdout.contains("a standby (in recovery): every job is skipped here"), "\(doctor.all)")
        }
    }
}
