import ArchiveFormat
import Foundation
import LibPQ
import Testing
import TestSupport

/// Partitioned queue tables (pg_partman, pgmq style), row by row: every job touches exactly
/// the rows it locked, in whichever partition they live.
@Suite("Partitioned tables")
struct PartitionedTableTests {
    /// Creates `queue`, a partitioned copy of the fixture's rows: RANGE on `created_at` (one
    /// partition itself partitioned by LIST on `flow_name`), or LIST on `flow_name`.
    static func createTable(_ connection: Connection, kind: String) throws {
        let columns = "LIKE processing_queue INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        switch kind {
        case "range":
            try connection.executeScript(
                """
                CREATE TABLE queue (\(columns), PRIMARY KEY (id, created_at, flow_name)) PARTITION BY RANGE (created_at);
                CREATE TABLE queue_old PARTITION OF queue FOR VALUES FROM (MINVALUE) TO ('\(Self.boundary(daysAgo: 40))');
                CREATE TABLE queue_mid PARTITION OF queue FOR VALUES FROM ('\(Self.boundary(daysAgo: 40))') TO ('\(Self.boundary(daysAgo: 10))');
                CREATE TABLE queue_new PARTITION OF queue FOR VALUES FROM ('\(Self.boundary(daysAgo: 10))') TO (MAXVALUE)
                    PARTITION BY LIST (flow_name);
                CREATE TABLE queue_new_video PARTITION OF queue_new FOR VALUES IN ('video-transcode');
                CREATE TABLE queue_new_rest PARTITION OF queue_new DEFAULT;
                """)
        default:
            try connection.executeScript(
                """
                CREATE TABLE queue (\(columns), PRIMARY KEY (id, flow_name)) PARTITION BY LIST (flow_name);
                CREATE TABLE queue_mail PARTITION OF queue FOR VALUES IN ('email-send', 'thumbnail');
                CREATE TABLE queue_video PARTITION OF queue FOR VALUES IN ('video-transcode');
                CREATE TABLE queue_rest PARTITION OF queue DEFAULT;
                """)
        }
        try connection.execute("INSERT INTO queue SELECT * FROM processing_queue")
        try connection.execute("ANALYZE queue")
    }

    static func boundary(daysAgo: Int) -> String {
        PostgresTimestamp.format(Date().addingTimeInterval(-Double(daysAgo) * 86_400))
    }

    static func prepare(_ database: TestDatabase, _ scratch: ScratchFolder) throws -> String {
        try RunnerTests.prepare(
            database, scratch,
            jobs: """
              reclaim: { type: reclaim_orphans, schedule: "@hourly", batch_size: 200 }
              reset: { type: reset_failed, schedule: "@hourly", batch_size: 200 }
              archive: { type: archive, schedule: "0 3 * * *", completed_before: 7d, failed_before: 30d, batch_size: 300 }
              stats: { type: analyze, schedule: "@daily", force: true }
            """,
            extra: "  lock_timeout: 2s\ntable: queue\narchive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB")
    }

    static func count(_ connection: Connection, _ sql: String) throws -> Int64 {
        try connection.query("SELECT count(*) AS n FROM queue WHERE \(sql)")[0].require(Int64.self, "n")
    }

    /// Every row as text, by id.
    static func rows(_ connection: Connection, _ table: String = "queue") throws -> [Int64: String] {
        var rows: [Int64: String] = [:]
        for row in try connection.query("SELECT id, q::text AS row FROM \(table) q") {
            rows[try row.require(Int64.self, "id")] = try row.require(String.self, "row")
        }
        return rows
    }

    @Test("schema apply, explain, reclaim, reset, archive (past a worker's row locks, never waiting) and restore on a partitioned copy", arguments: ["range", "list"])
    func partitioned(kind: String) async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 6_000)
            try Self.createTable(connection, kind: kind)
            let config = try Self.prepare(database, scratch)

            // Indexes: built without blocking writers, valid on the parent, and found again.
            let check = try CLI.run(["--config", config, "schema", "check"])
            #expect(check.status == 0, "\(check.all)")
            #expect(check.stdout.contains("present (partitioned)"), "\(check.stdout)")
            let invalid = try connection.query(
                "SELECT count(*) AS n FROM pg_index i WHERE NOT i.indisvalid")[0].require(Int64.self, "n")
            #expect(invalid == 0)
            let again = try CLI.run(["--config", config, "schema", "apply"])
            #expect(again.stdout.contains("indexes: none missing"), "\(again.all)")
            let explain = try CLI.run(["--config", config, "explain"])
            #expect(explain.status == 0, "\(explain.all)")

            // A worker holds some archivable rows of one partition for the whole archive run.
            let original = try Self.rows(connection)
            let archivable = try Self.count(connection, ArchiveTests.archivable)
            let worker = try database.connect()
            try worker.execute("BEGIN")
            let held = try worker.query(
                """
                SELECT id FROM queue WHERE status = 'completed' AND completed_at < now() - interval '7 days'
                ORDER BY completed_at LIMIT 40 FOR UPDATE
                """).map { try $0.require(Int64.self, "id") }
            #expect(held.count == 40)
            let run = try CLI.run(["--config", config, "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            try worker.execute("ROLLBACK")
            #expect(try Self.count(connection, ArchiveTests.archivable) == 40, "only the held rows are left")
            #expect(try Self.count(connection, "id = ANY('{\(held.map(String.init).joined(separator: ","))}')") == 40)
            // No row was lost or touched that should not be: the rest are exactly as they were.
            let left = try Self.rows(connection)
            #expect(left.count == original.count - Int(archivable) + 40)
            #expect(left.allSatisfy { original[$0.key] == $0.value })
            let archived = try ArchiveIdentityTests.archivedIDs(connection, table: #""public"."queue""#, root: scratch.file("archive"))
            #expect(archived.count == Int(archivable) - 40)
            #expect(Set(archived.compactMap { Int64($0) }).isDisjoint(with: Set(left.keys)))

            // Reclaim and reset through the partitions: each row once, the rest unchanged.
            let orphans = try Self.count(connection, "status = 'processing' AND claimed_at < now() - interval '1 hour'")
            let retryable = try Self.count(connection, "status = 'failed' AND retry_count < 3")
            #expect(orphans > 0 && retryable > 0)
            let queueJobs = try CLI.run(["--config", config, "--log-format", "json", "run", "reclaim", "reset", "stats"])
            #expect(queueJobs.status == 0, "\(queueJobs.all)")
            #expect(try Self.count(connection, "status = 'processing' AND claimed_at < now() - interval '1 hour'") == 0)
            var runs: [String: Int64] = [:]
            for row in try connection.query("SELECT job, rows_affected FROM pgsweep.job_runs WHERE job IN ('reclaim', 'reset')") {
                runs[try row.require(String.self, "job")] = try row.require(Int64.self, "rows_affected")
            }
            #expect(runs["reclaim"] == orphans)
            // Reclaim sends orphans with retries used up to failed, which reset leaves alone.
            #expect(runs["reset"] == retryable)

            // Restore puts the archived rows back exactly, once.
            let restore = try CLI.run(["--config", config, "restore", scratch.file("archive")])
            #expect(restore.status == 0, "\(restore.all)")
            #expect(restore.stdout.contains("inserted \(archived.count) rows; 0 already present"), "\(restore.stdout)")
            let back = try Self.rows(connection)
            for id in archived.compactMap({ Int64($0) }) { #expect(back[id] == original[id]) }
            let twice = try CLI.run(["--config", config, "restore", scratch.file("archive")])
            #expect(twice.stdout.contains("inserted 0 rows; \(archived.count) already present"), "\(twice.stdout)")
        }
    }

    @Test("reindex measures and rebuilds each partition's indexes; status --indexes lists them")
    func reindexPartitions() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 20_000)
            try Self.createTable(connection, kind: "list")
            let config = try RunnerTests.prepare(
                database, scratch, jobs: "  reindex: { type: reindex, schedule: \"@weekly\", bloat_threshold: 0.5, min_size: 1kB }",
                extra: "table: queue")
            try connection.execute("DELETE FROM queue WHERE id % 10 < 8")
            try connection.execute("VACUUM ANALYZE queue")
            let status = try CLI.run(["--config", config, "status", "--indexes", "--estimate"])
            #expect(status.status == 0, "\(status.all)")
            #expect(status.stdout.contains("queue_video_pkey"), "\(status.stdout)")
            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "reindex"])
            #expect(run.status == 0, "\(run.all)")
            let rebuilt = try connection.query("SELECT rows_affected FROM pgsweep.job_runs WHERE job = 'reindex'")[0]
                .require(Int64.self, "rows_affected")
            #expect(rebuilt > 3, "every bloated partition index is rebuilt, with no cap by default")
            #expect(run.stderr.contains("rebuilt idx_queue_mail_"), "\(run.stderr)")
            let invalid = try connection.query("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid")[0].require(Int64.self, "n")
            #expect(invalid == 0)
        }
    }
}
