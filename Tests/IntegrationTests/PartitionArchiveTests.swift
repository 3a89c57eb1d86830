import ArchiveFormat
import Foundation
import LibPQ
import Testing
import TestSupport

/// Whole partitions: a daily RANGE-partitioned queue whose old partitions are copied out,
/// detached and dropped, while partitions holding an unfinished row go row by row.
@Suite("Whole-partition archive")
struct PartitionArchiveTests {
    /// Days of rows, one partition each, and rows per day.
    static let days = 60
    static let perDay = 200
    /// Old days holding one unfinished (pending) row each.
    static let unfinishedDays = [20, 35, 50]

    /// Creates `queue`: daily partitions for the last `days` days and two days ahead (empty,
    /// as pg_partman's premake leaves them). Rows older than
    /// 8 days are completed (or failed with retries used up, past 30 days), newer ones mixed;
    /// one row in each of `unfinishedDays` is pending.
    static func createQueue(_ connection: Connection) throws {
        try connection.execute("SET TIME ZONE 'UTC'")
        try connection.execute(
            """
            CREATE TABLE queue (LIKE processing_queue INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (id, created_at))
            PARTITION BY RANGE (created_at)
            """)
        try connection.execute("CREATE SEQUENCE queue_id_seq OWNED BY queue.id")
        try connection.execute("ALTER TABLE queue ALTER COLUMN id SET DEFAULT nextval('queue_id_seq')")
        try connection.execute(
            """
            DO $$ DECLARE d int; BEGIN
            FOR d IN -2..\(days - 1) LOOP
                EXECUTE format('CREATE TABLE %I PARTITION OF queue FOR VALUES FROM (%L) TO (%L)',
                    'queue_p' || to_char(current_date - d, 'YYYYMMDD'), (current_date - d)::timestamptz, (current_date - d + 1)::timestamptz);
            END LOOP; END $$
            """)
        for index in ["flow_name, status", "status, created_at", "completed_at, created_at, status", "flow_name, status, created_at"] {
            try connection.execute("CREATE INDEX ON queue (\(index))")
        }
        try insertRows(connection, into: "queue", days: days)
        for day in unfinishedDays {
            try connection.execute(
                """
                UPDATE queue SET status = 'pending', completed_at = NULL WHERE id = (
                    SELECT min(id) FROM queue WHERE created_at >= current_date - $1::int AND created_at < current_date - $1::int + 1)
                """, [Int32(day)])
        }
        try connection.execute("ANALYZE queue")
    }

    /// `perDay` rows for each of the last `days` days: older than 8 days completed (or failed
    /// with retries used up, past 30 days), newer ones pending, processing or completed.
    static func insertRows(_ connection: Connection, into table: String, days: Int) throws {
        try connection.execute(
            """
            INSERT INTO \(table) (flow_name, status, payload, retry_count, error_message, created_at, completed_at, updated_at)
            SELECT (ARRAY['email-send', 'video-transcode', 'thumbnail'])[1 + g % 3],
                   s.status, jsonb_build_object('n', g, 'note', E'comma, "quote"\\nnewline'), s.retries,
                   CASE WHEN s.status = 'failed' THEN 'worker error' END, t.created,
                   CASE WHEN s.status = 'completed' THEN t.created + interval '2 minutes' END, t.created
            FROM generate_series(0, \(days * perDay - 1)) g
            CROSS JOIN LATERAL (SELECT g / \(perDay) AS day) d
            CROSS JOIN LATERAL (SELECT current_date::timestamptz - d.day * interval '1 day' + (g % \(perDay)) * interval '7 minutes' AS created) t
            CROSS JOIN LATERAL (SELECT CASE
                WHEN d.day >= 31 AND g % 10 = 0 THEN 'failed'
                WHEN d.day >= 8 THEN 'completed'
                ELSE (ARRAY['pending', 'processing', 'completed'])[1 + g % 3] END AS status,
                CASE WHEN d.day >= 31 AND g % 10 = 0 THEN 3 ELSE 0 END AS retries) s
            WHERE t.created < now()
            """)
    }

    static func prepare(_ database: TestDatabase, _ scratch: ScratchFolder, batchSize: Int = 5_000, lockTimeout: String = "2s") throws -> String {
        try RunnerTests.prepare(
            database, scratch,
            jobs: """
              archive: { type: archive, schedule: "0 3 * * *", completed_before: 7d, failed_before: 30d, batch_size: \(batchSize) }
            """,
            extra: "  lock_timeout: \(lockTimeout)\ntable: queue\narchive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB")
    }

    /// Runs `body` on a fresh database holding `queue` (see `createQueue`), its configuration
    /// and `snapshot`, a copy of its rows.
    static func withQueue(
        batchSize: Int = 5_000, lockTimeout: String = "2s",
        _ body: (TestDatabase, Connection, _ config: String, ScratchFolder) throws -> Void
    ) async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try createQueue(connection)
            let config = try prepare(database, scratch, batchSize: batchSize, lockTimeout: lockTimeout)
            try connection.execute("CREATE TABLE snapshot AS SELECT * FROM queue")
            try body(database, connection, config, scratch)
        }
    }

    static func partitions(_ connection: Connection) throws -> Set<String> {
        Set(try connection.query("SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'queue'::regclass")
            .map { try $0.require(String.self, "name") })
    }

    static func name(daysAgo day: Int, _ connection: Connection) throws -> String {
        try connection.query("SELECT 'queue_p' || to_char(current_date - $1::int, 'YYYYMMDD') AS n", [Int32(day)])[0].require(String.self, "n")
    }

    static func count(_ connection: Connection, _ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> Int64 {
        try connection.query(sql, parameters)[0].require(Int64.self, at: 0)
    }

    /// Every row either still in `queue` or in exactly one ledgered file: nothing lost,
    /// nothing twice (rows of a partition pending drop may be in both).
    static func nothingLost(_ connection: Connection, _ config: String, snapshot: String = "snapshot") throws {
        try connection.execute("DROP TABLE IF EXISTS restored")
        try connection.execute("CREATE TABLE restored (LIKE processing_queue INCLUDING DEFAULTS, PRIMARY KEY (id))")
        // The ledgered files only: a killed run's leftovers (a data file without its manifest,
        // say) count for nothing.
        let root = (config as NSString).deletingLastPathComponent + "/archive"
        let files = try connection.query("SELECT file FROM pgsweep.archive_batches ORDER BY id").map { root + "/" + (try $0.require(String.self, "file")) }
        if !files.isEmpty {
            let restore = try CLI.run(["--config", config, "restore", "--into", "restored"] + files)
            #expect(restore.status == 0, "\(restore.all)")
        }
        let missing = try count(
            connection,
            """
            SELECT count(*) FROM \(snapshot) s
            WHERE NOT EXISTS (SELECT 1 FROM queue q WHERE q.id = s.id AND (q.*) IS NOT DISTINCT FROM (s.*))
              AND NOT EXISTS (SELECT 1 FROM restored r WHERE r.id = s.id AND (r.*) IS NOT DISTINCT FROM (s.*))
            """)
        #expect(missing == 0, "\(missing) rows neither in the table nor in an archive file")
        let ledgered = try count(
            connection, "SELECT coalesce(sum(row_count), 0)::int8 FROM pgsweep.archive_batches")
        let gone = try count(connection, "SELECT count(*) FROM \(snapshot) s WHERE NOT EXISTS (SELECT 1 FROM queue q WHERE q.id = s.id)")
        let pendingRows = try count(
            connection, "SELECT coalesce(sum(row_count), 0)::int8 FROM pgsweep.archive_partitions WHERE state = 'copied'")
        #expect(ledgered >= gone && ledgered <= gone + pendingRows, "ledger \(ledgered), gone \(gone), pending \(pendingRows)")
    }

    @Test("old partitions go whole (gone from the catalog, rows in ledgered files), the others row by row; restore round-trips, and brings a dropped partition back with --create-partitions")
    func wholePartitions() async throws {
        try await Self.withQueue { _, connection, config, scratch in
            let before = try Self.partitions(connection)
            let unfinished = try Self.unfinishedDays.map { try Self.name(daysAgo: $0, connection) }

            // Dry run and explain say which way each partition goes.
            let dry = try CLI.run(["--config", config, "--log-format", "json", "run", "archive", "--dry-run"])
            #expect(dry.status == 0, "\(dry.all)")
            #expect(dry.stderr.contains("\(try Self.name(daysAgo: 9, connection)): whole (every row is archivable)"), "\(dry.stderr)")
            #expect(dry.stderr.contains("\(unfinished[0]): rows (it holds rows not archivable yet (a pending row, at least)"), "\(dry.stderr)")
            #expect(dry.stderr.contains("\(try Self.name(daysAgo: 3, connection)): rows (its range ends at"), "\(dry.stderr)")
            #expect(try Self.partitions(connection) == before)
            let explain = try CLI.run(["--config", config, "explain", "archive"])
            #expect(explain.stdout.contains("\(try Self.name(daysAgo: 9, connection)): whole"), "\(explain.all)")

            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            let after = try Self.partitions(connection)
            let dropped = before.subtracting(after)
            // Days 8 to 59, but for the three holding an unfinished row.
            #expect(dropped.count == Self.days - 8 - Self.unfinishedDays.count, "\(dropped.sorted())")
            for name in unfinished { #expect(after.contains(name)) }
            #expect(try Self.count(connection, "SELECT count(*) FROM pg_class WHERE relname = ANY($1)", [Array(dropped)]) == 0)
            // The unfinished rows stay, alone in their partitions; every row newer than 8 days stays.
            for name in unfinished {
                #expect(try Self.count(connection, "SELECT count(*) FROM \(name)") == 1)
                #expect(try Self.count(connection, "SELECT count(*) FROM \(name) WHERE status = 'pending'") == 1)
            }
            #expect(try Self.count(connection, "SELECT count(*) FROM queue WHERE created_at >= current_date - 7")
                == Self.count(connection, "SELECT count(*) FROM snapshot WHERE created_at >= current_date - 7 AND NOT (status = 'completed' AND completed_at < now() - interval '7 days')"))
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_partitions WHERE state = 'dropped'") == Int64(dropped.count))
            #expect(try Self.count(connection, "SELECT count(*) FROM pg_constraint WHERE conname = 'pgsweep_archiving'") == 0)
            // Manifests of partition files name the partition and its bounds.
            let file = try connection.query(
                "SELECT file FROM pgsweep.archive_batches WHERE partition_id IS NOT NULL LIMIT 1")[0].require(String.self, "file")
            let manifest = try LocalArchiveStore(root: scratch.file("archive")).manifest(of: file)
            #expect(manifest.partition?.bounds.hasPrefix("FOR VALUES FROM (") == true)

            let verify = try CLI.run(["--config", config, "archive", "verify"])
            #expect(verify.status == 0, "\(verify.all)")
            try Self.nothingLost(connection, config)
            #expect(try Self.count(connection, "SELECT count(*) FROM restored")
                == Self.count(connection, "SELECT count(*) FROM snapshot s WHERE NOT EXISTS (SELECT 1 FROM queue q WHERE q.id = s.id)"))

            // A second run changes nothing.
            let again = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(again.status == 0, "\(again.all)")
            #expect(try Self.partitions(connection) == after)

            // Into the parent: without --create-partitions, a clear refusal naming the flag.
            let refused = try CLI.run(["--config", config, "restore"])
            #expect(refused.status == 1, "\(refused.all)")
            #expect(refused.stderr.contains("no partition of public.queue takes the rows of") && refused.stderr.contains("--create-partitions"),
                    "\(refused.stderr)")
            let restored = try CLI.run(["--config", config, "restore", "--create-partitions"])
            #expect(restored.status == 0, "\(restored.all)")
            #expect(try Self.partitions(connection) == before)
            #expect(try Self.count(
                connection,
                "SELECT count(*) FROM snapshot s WHERE NOT EXISTS (SELECT 1 FROM queue q WHERE q.id = s.id AND (q.*) IS NOT DISTINCT FROM (s.*))") == 0)
            #expect(try Self.count(connection, "SELECT count(*) FROM queue") == Self.count(connection, "SELECT count(*) FROM snapshot"))
        }
    }

    /// The next run finishes the work, and after `--repair` verify shows only ok files: every
    /// candidate partition dropped, no archiving constraint left, nothing lost.
    static func finishes(_ connection: Connection, _ config: String, expectDropped: Int) throws {
        let next = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
        #expect(next.status == 0, "\(next.all)")
        #expect(try count(connection, "SELECT count(*) FROM pgsweep.archive_partitions WHERE state = 'dropped'") == Int64(expectDropped))
        #expect(try count(connection, "SELECT count(*) FROM pgsweep.archive_partitions WHERE state <> 'dropped'") == 0)
        #expect(try count(connection, "SELECT count(*) FROM pg_constraint WHERE conname = 'pgsweep_archiving'") == 0)
        try nothingLost(connection, config)
        let repair = try CLI.run(["--config", config, "archive", "verify", "--repair"])
        #expect(repair.status == 0, "\(repair.all)")
        let clean = try CLI.run(["--config", config, "archive", "verify", "--json"])
        let items = try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(!items.isEmpty && items.allSatisfy { $0["state"] as? String == "ok" }, "\(clean.stdout)")
        try nothingLost(connection, config)
    }

    static var candidates: Int { days - 8 - unfinishedDays.count }

    @Test("SIGKILL at each step of a whole partition: nothing lost, the next run completes, verify clean after --repair", arguments: [
        "partition-after-files", "partition-after-ledger", "partition-after-commit", "partition-after-detach", "partition-before-drop",
    ])
    func crashAtEachStep(point: String) async throws {
        try await Self.withQueue { _, connection, config, _ in
            let killed = try CLI.run(["--config", config, "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "\(point):2"])
            #expect(killed.status == 128 + SIGKILL, "\(killed.all)")
            // The second partition stopped at the point. The first may be dropped by then, or
            // not yet: two drop connections work side by side, so the first partition past
            // a drop step may still be dropping when the second reaches it.
            let dropped = try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_partitions WHERE state = 'dropped'")
            #expect(dropped <= 1, "\(dropped) dropped")
            try Self.nothingLost(connection, config)
            try ArchiveTests.verifyShowsOnlyLeftovers(config)
            // A partition in its files and still in the database is not damage, and verify says so.
            let verify = try CLI.run(["--config", config, "archive", "verify"])
            #expect(verify.status == 0, "\(verify.all)")
            if ["partition-after-commit", "partition-after-detach", "partition-before-drop"].contains(point) {
                let place = point == "partition-after-commit" ? "attached" : "detached"
                #expect(verify.stdout.contains("copied to its files, \(place), not yet dropped"), "\(verify.stdout)")
            }
            try Self.finishes(connection, config, expectDropped: Self.candidates)
        }
    }

    @Test("killed while DETACH CONCURRENTLY waits for a transaction on the table (its connection lost too): the next run finishes it with FINALIZE")
    func crashDuringDetach() async throws {
        // A lock_timeout longer than the test, so the transaction below never counts as long.
        try await Self.withQueue(lockTimeout: "600s") { database, connection, config, _ in
            // A transaction holding a lock on the table, which the detach must wait out.
            let reader = try database.connect()
            try reader.execute("BEGIN")
            try reader.execute("LOCK TABLE ONLY queue IN ACCESS SHARE MODE")
            let process = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "archive"])
            let waiting = try eventually(within: 60) {
                try Self.count(connection, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'queue'::regclass AND inhdetachpending") > 0
            }
            #expect(waiting)
            process.signal(SIGKILL)
            _ = try process.wait()
            // The lost connection: its backend ends too, leaving the detach half done.
            _ = try connection.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%DETACH PARTITION%CONCURRENTLY%' AND pid <> pg_backend_pid()")
            _ = try eventually(within: 30) {
                try Self.count(connection, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%DETACH PARTITION%CONCURRENTLY%' AND pid <> pg_backend_pid()") == 0
            }
            try reader.execute("COMMIT")
            #expect(try Self.count(connection, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'queue'::regclass AND inhdetachpending") == 1)
            try Self.nothingLost(connection, config)
            try Self.finishes(connection, config, expectDropped: Self.candidates)
        }
    }

    @Test("SIGKILL at random moments of whole-partition runs: nothing lost, and the runs finish the work")
    func randomKills() async throws {
        try await Self.withQueue(batchSize: 50) { _, connection, config, scratch in
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<6 {
                let files = try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches")
                let step = Int64.random(in: 0...3, using: &generator)
                let process = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "archive"])
                _ = try eventually(within: 60) {
                    if process.hasExited { return true }
                    let written = ArchivePaths.dataFiles(under: scratch.file("archive")).count
                    return try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches") >= files + step
                        && (step > 0 || written > Int(files))
                }
                process.signal(SIGKILL)
                _ = try process.wait()
                try Self.nothingLost(connection, config)
            }
            try Self.finishes(connection, config, expectDropped: Self.candidates)
            // A partition's 200 rows went into files of batch_size (50) rows each.
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches WHERE partition_id IS NOT NULL AND row_count <> 50") == 0)
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches WHERE partition_id IS NOT NULL") == Int64(4 * Self.candidates))
        }
    }

    @Test("a row made unarchivable between the survey and the freeze: the check after the freeze finds it; the partition stays, its rows go one by one")
    func changedAfterSurvey() async throws {
        try await Self.withQueue { _, connection, config, _ in
            // One candidate only: every other old partition gets a pending row.
            let oldest = try Self.name(daysAgo: 59, connection)
            try connection.execute(
                """
                UPDATE queue SET status = 'pending', completed_at = NULL WHERE id IN (
                    SELECT min(id) FROM queue WHERE created_at >= current_date - 58 AND created_at < current_date - 7 GROUP BY created_at::date)
                """)
            try connection.execute("DROP TABLE snapshot")
            try connection.execute("CREATE TABLE snapshot AS SELECT * FROM queue")
            let before = try Self.partitions(connection)
            let process = try ProcessRunner.start(
                RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "run", "archive"],
                environment: ["PGSWEEP_STOP_AT": "partition-before-freeze"])
            #expect(eventually(within: 60) { process.isStopped || process.hasExited })
            // Bounded, so a lock the stopped process holds fails the test instead of hanging it.
            try connection.execute("SET lock_timeout = '30s'")
            let changed: Int64
            do {
                changed = try connection.query(
                    "UPDATE \(oldest) SET status = 'pending', completed_at = NULL WHERE id = (SELECT max(id) FROM \(oldest)) RETURNING id"
                )[0].require(Int64.self, "id")
            } catch {
                process.signal(SIGCONT)
                _ = try? process.wait()
                throw error
            }
            try connection.execute("RESET lock_timeout")
            try connection.execute("UPDATE snapshot SET status = 'pending', completed_at = NULL WHERE id = $1", [changed])
            process.signal(SIGCONT)
            let run = try process.wait()
            #expect(run.status == 0, "\(run.all)")
            #expect(run.stderr.contains("a row changed since it was surveyed"), "\(run.stderr)")
            #expect(try Self.partitions(connection) == before)
            #expect(try Self.count(connection, "SELECT count(*) FROM pg_constraint WHERE conname = 'pgsweep_archiving'") == 0)
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_partitions") == 0)
            #expect(try Self.count(connection, "SELECT count(*) FROM \(oldest)") == 1)
            #expect(try Self.count(connection, "SELECT count(*) FROM queue WHERE id = $1 AND status = 'pending'", [changed]) == 1)
            try Self.nothingLost(connection, config)
        }
    }

    @Test("a worker's transaction holding a row lock in a candidate partition: no wait, no half-detach; rows go row by row, the next run takes it whole")
    func busyPartition() async throws {
        try await Self.withQueue { database, connection, config, _ in
            let busy = try Self.name(daysAgo: 12, connection)
            let before = try Self.partitions(connection)
            // A worker's transaction, through the table as workers go, open longer than lock_timeout.
            let worker = try database.connect()
            try worker.execute("BEGIN")
            let held = try worker.query(
                "UPDATE queue SET updated_at = updated_at WHERE id = (SELECT min(id) FROM \(busy)) RETURNING id")[0].require(Int64.self, "id")
            let workerPID = try worker.query("SELECT pg_backend_pid() AS pid")[0].require(Int32.self, "pid")
            #expect(try eventually(within: 30) {
                try Self.count(connection, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND xact_start < now() - interval '2s'", [workerPID]) == 1
            })
            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            #expect(run.stderr.contains("partition busy"), "\(run.stderr)")
            // Nothing frozen, detached or dropped: the archivable rows went one by one, past the held one.
            #expect(try Self.partitions(connection) == before)
            #expect(try Self.count(connection, "SELECT count(*) FROM pg_constraint WHERE conname = 'pgsweep_archiving'") == 0)
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_partitions") == 0)
            #expect(try Self.count(connection, "SELECT count(*) FROM \(busy)") == 1)
            #expect(try Self.count(connection, "SELECT count(*) FROM \(busy) WHERE id = $1", [held]) == 1)
            try worker.execute("COMMIT")
            // The next run takes the partition whole (its one row); the emptied ones stay.
            try Self.finishes(connection, config, expectDropped: 1)
            #expect(try !Self.partitions(connection).contains(busy))
        }
    }

    /// pg_partman is Debian's package for its own PostgreSQL 15: on another server the test
    /// runs on a cluster of 15 of its own.
    @Test("a pg_partman-managed queue: old partitions go whole (plain DETACH, beside partman's default partition), then run_maintenance() succeeds and keeps making partitions")
    func partman() async throws {
        try await TestDatabase.with(queueTable: true, cluster: try TestCluster.offering(extension: "pg_partman")) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try connection.execute("SET TIME ZONE 'UTC'")
            try connection.execute("CREATE SCHEMA partman")
            try connection.execute("CREATE EXTENSION pg_partman SCHEMA partman")
            try connection.execute(
                """
                CREATE TABLE queue (LIKE processing_queue INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (id, created_at))
                PARTITION BY RANGE (created_at)
                """)
            _ = try connection.query(
                """
                SELECT partman.create_parent(p_parent_table => 'public.queue', p_control => 'created_at', p_type => 'native',
                    p_interval => 'daily', p_premake => 3, p_start_partition => (current_date - 19)::text)
                """)
            for index in ["flow_name, status", "status, created_at", "completed_at, created_at, status", "flow_name, status, created_at"] {
                try connection.execute("CREATE INDEX ON queue (\(index))")
            }
            try Self.insertRows(connection, into: "queue", days: 20)
            try connection.execute("ANALYZE queue")
            try connection.execute("CREATE TABLE snapshot AS SELECT * FROM queue")
            let config = try Self.prepare(database, scratch)
            let before = try Self.partitions(connection)
            #expect(before.contains("queue_default"))

            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            // Days 8 to 19 went whole; the default partition and the newer ones stay.
            let dropped = before.subtracting(try Self.partitions(connection))
            #expect(dropped.count == 12, "\(dropped.sorted())")
            #expect(try Self.partitions(connection).contains("queue_default"))
            try Self.nothingLost(connection, config)

            // partman's maintenance still works, and makes the partitions its premake asks for.
            _ = try connection.query("SELECT partman.run_maintenance('public.queue')")
            try connection.execute("UPDATE partman.part_config SET premake = 6 WHERE parent_table = 'public.queue'")
            _ = try connection.query("SELECT partman.run_maintenance('public.queue')")
            let ahead = try connection.query("SELECT 'queue_p' || to_char(current_date + 6, 'YYYY_MM_DD') AS n")[0].require(String.self, "n")
            let made = try Self.partitions(connection)
            #expect(made.contains(ahead), "\(made.sorted())")
            let again = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(again.status == 0, "\(again.all)")
        }
    }

    @Test("a queue partitioned BY RANGE (id): partitions whose rows are all old and archivable, with newer ids past them, go whole; the others stay")
    func idRanges() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try connection.execute("SET TIME ZONE 'UTC'")
            try connection.execute("CREATE TABLE staging (LIKE processing_queue INCLUDING DEFAULTS)")
            try Self.insertRows(connection, into: "staging", days: 30)
            try connection.execute(
                "UPDATE staging SET status = 'pending', completed_at = NULL WHERE id = (SELECT min(id) FROM staging WHERE created_at < current_date - 20)")
            try connection.execute(
                """
                CREATE TABLE queue (LIKE processing_queue INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (id))
                PARTITION BY RANGE (id)
                """)
            // 1,000 ids (five days of rows) per partition, and one ahead for new rows.
            for part in 0...6 {
                try connection.execute("CREATE TABLE queue_\(part) PARTITION OF queue FOR VALUES FROM (\(part * 1_000 + 1)) TO (\((part + 1) * 1_000 + 1))")
            }
            for index in ["flow_name, status", "status, created_at", "completed_at, created_at, status", "flow_name, status, created_at"] {
                try connection.execute("CREATE INDEX ON queue (\(index))")
            }
            try connection.execute(
                """
                INSERT INTO queue SELECT row_number() OVER (ORDER BY created_at, id), flow_name, status, payload, retry_count, error_message,
                    flow_instance_id, created_at, claimed_at, completed_at, updated_at FROM staging
                """)
            try connection.execute("ANALYZE queue")
            try connection.execute("CREATE TABLE snapshot AS SELECT * FROM queue")
            // Whole: every row created more than 8 days ago and archivable, newer ids past the range.
            var expected = Set<String>()
            for part in 0...6 {
                let facts = try connection.query(
                    """
                    SELECT count(*) > 0 AND max(created_at) < now() - interval '7 days'
                        AND bool_and((status = 'completed' AND completed_at < now() - interval '7 days')
                                     OR (status = 'failed' AND completed_at IS NULL AND retry_count >= 3 AND created_at < now() - interval '30 days'))
                        AND EXISTS (SELECT 1 FROM queue WHERE id > \((part + 1) * 1_000)) AS whole
                    FROM queue_\(part)
                    """)[0]
                if try facts.decode(Bool.self, "whole") == true { expected.insert("queue_\(part)") }
            }
            #expect(expected.count >= 2, "\(expected)")
            let config = try Self.prepare(database, scratch)
            let before = try Self.partitions(connection)
            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            #expect(before.subtracting(try Self.partitions(connection)) == expected)
            try Self.nothingLost(connection, config)
        }
    }

    @Test("a copied partition whose file no longer verifies is put back into the table on the next run, never dropped")
    func damagedFilesKeepThePartition() async throws {
        try await Self.withQueue { _, connection, config, scratch in
            let killed = try CLI.run(["--config", config, "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "partition-after-commit:1"])
            #expect(killed.status == 128 + SIGKILL, "\(killed.all)")
            let row = try connection.query(
                """
                SELECT p.id, p.partition_name, b.file FROM pgsweep.archive_partitions p JOIN pgsweep.archive_batches b ON b.partition_id = p.id
                WHERE p.state = 'copied' ORDER BY b.id LIMIT 1
                """)[0]
            let id = try row.require(Int64.self, "id")
            let file = scratch.file("archive") + "/" + (try row.require(String.self, "file"))
            // One byte of the file changed.
            let handle = try #require(FileHandle(forUpdatingAtPath: file))
            try handle.seek(toOffset: 100)
            let byte = try #require(try handle.read(upToCount: 1)?.first)
            try handle.seek(toOffset: 100)
            try handle.write(contentsOf: Data([byte ^ 0xFF]))
            try handle.close()

            let next = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(next.status == 0, "\(next.all)")
            #expect(next.stderr.contains("putting it back into the table"), "\(next.stderr)")
            let kept = try connection.query("SELECT state, detail FROM pgsweep.archive_partitions WHERE id = $1", [id])[0]
            #expect(try kept.require(String.self, "state") == "kept")
            let detail = try kept.require(String.self, "detail")
            #expect(detail.contains("file "), "\(detail)")
            #expect(try Self.count(connection, "SELECT count(*) FROM pgsweep.archive_batches WHERE partition_id = $1", [id]) == 0)
            // The rows stayed in the table (and this run took the partition whole again, with new files).
            try Self.nothingLost(connection, config)
            let verify = try CLI.run(["--config", config, "archive", "verify"])
            #expect(verify.status == 4 && verify.stdout.contains((file as NSString).lastPathComponent), "\(verify.all)")
        }
    }
}
