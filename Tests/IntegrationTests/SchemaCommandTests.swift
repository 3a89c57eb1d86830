import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

@Suite("schema apply and schema check")
struct SchemaCommandTests {
    /// Everything `schema apply` could change: relations in both schemas, index validity,
    /// and the migration rows with their row versions.
    static func snapshot(_ database: TestDatabase) throws -> [String] {
        let connection = try database.connect()
        let relations = try connection.query(
            """
            SELECT c.oid::text || ' ' || n.nspname || '.' || c.relname || ' ' || c.relfilenode::text
                   || ' ' || coalesce(i.indisvalid::text, '-')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_index i ON i.indexrelid = c.oid
            WHERE n.nspname IN ('public', 'pgsweep') ORDER BY 1
            """)
        let migrations = try connection.query(
            "SELECT xmin::text || ' ' || version::text || ' ' || applied_at::text FROM pgsweep.schema_migrations ORDER BY version")
        return try (relations.map { try $0.decode(String.self, at: 0)! } + migrations.map { try $0.decode(String.self, at: 0)! })
    }

    @Test("apply creates the schema and every V007 index; a second apply changes nothing")
    func applyTwiceChangesNothing() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try database.writeConfig(in: scratch.path)
            let first = try CLI.run(["--config", config, "schema", "apply"])
            #expect(first.status == 0, "\(first.all)")
            #expect(first.stdout.contains("applied migration(s) 1"))
            #expect(first.stdout.contains("idx_processing_queue_cleanup_timestamps"))
            let before = try Self.snapshot(database)

            let second = try CLI.run(["--config", config, "schema", "apply"])
            #expect(second.status == 0, "\(second.all)")
            #expect(second.stdout.contains("pgsweep schema: up to date"))
            #expect(second.stdout.contains("indexes: none missing"))
            #expect(try Self.snapshot(database) == before)

            let check = try CLI.run(["--config", config, "schema", "check"])
            #expect(check.status == 0, "\(check.all)")
            #expect(check.stdout.components(separatedBy: "  valid").count - 1 == 8)
        }
    }

    @Test("check reports a dropped index as missing and a failed concurrent build as invalid")
    func checkFindsMissingAndInvalid() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try database.writeConfig(in: scratch.path)
            #expect(try CLI.run(["--config", config, "schema", "apply"]).status == 0)
            let connection = try database.connect()
            try connection.execute("DROP INDEX idx_processing_queue_monitoring")
            // A real invalid index: a unique concurrent build that fails on duplicates.
            try connection.execute("DROP INDEX idx_processing_queue_pending")
            try connection.execute("INSERT INTO processing_queue (flow_name) VALUES ('a'), ('a')")
            #expect(throws: PostgresError.self) {
                try connection.execute(
                    "CREATE UNIQUE INDEX CONCURRENTLY idx_processing_queue_pending ON processing_queue (flow_name)")
            }

            let check = try CLI.run(["--config", config, "schema", "check"])
            #expect(check.status == 1)
            #expect(check.stdout.contains(where: { _ in true }))
            let lines = check.stdout.split(separator: "\n")
            #expect(lines.contains { $0.contains("idx_processing_queue_monitoring") && $0.hasSuffix("MISSING") })
            #expect(lines.contains { $0.contains("idx_processing_queue_pending") && $0.hasSuffix("INVALID") })
            #expect(lines.contains { $0.contains("idx_processing_queue_failed_retry") && $0.hasSuffix("valid") })

            // apply recreates the missing one and leaves the invalid one alone, with advice.
            let apply = try CLI.run(["--config", config, "schema", "apply"])
            #expect(apply.status == 1)
            #expect(apply.stdout.contains("created idx_processing_queue_monitoring"))
            #expect(apply.stdout.contains("idx_processing_queue_pending"))
            #expect(apply.stdout.contains("REINDEX INDEX CONCURRENTLY"))
        }
    }

    @Test("apply on a database without the table fails clearly and creates no index")
    func applyWithoutTable() async throws {
        try await TestDatabase.with { database in
            let scratch = try ScratchFolder()
            let config = try database.writeConfig("table: app.missing_queue", in: scratch.path)
            let output = try CLI.run(["--config", config, "schema", "apply"])
            #expect(output.status == 1)
            #expect(output.stderr.contains("table app.missing_queue does not exist"))
        }
    }

    @Test("a schema-qualified table gets its indexes in its own schema")
    func qualifiedTable() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE SCHEMA app")
            let sql = try String(contentsOfFile: RepositoryPaths.file("ops/sql/processing_queue.sql"), encoding: .utf8)
            try connection.executeScript("SET search_path = app; " + sql)
            let scratch = try ScratchFolder()
            let config = try database.writeConfig("table: app.processing_queue", in: scratch.path)
            #expect(try CLI.run(["--config", config, "schema", "apply"]).status == 0)
            let count = try connection.query(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = 'app' AND indexname LIKE 'idx_processing_queue_%'")
            #expect(try count[0].decode(Int.self, at: 0) == 8)
            #expect(try CLI.run(["--config", config, "schema", "check"]).status == 0)
        }
    }

    @Test("an upgrade from pgsweep's schema version 1 keeps past runs, totals and ledger rows, and counts on from them")
    func upgradeFromVersionOne() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            // pgsweep's schema as the first version left it, with some history.
            try connection.executeScript(
                """
                CREATE SCHEMA pgsweep;
                CREATE TABLE pgsweep.schema_migrations (version integer PRIMARY KEY, summary text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(), pgsweep_version text NOT NULL);
                \(OwnSchema.migrations[0].sql("pgsweep"));
                INSERT INTO pgsweep.schema_migrations (version, summary, pgsweep_version) VALUES (1, 'first', '0.1.0');
                INSERT INTO pgsweep.job_runs (job, job_type, status, started_at, finished_at, rows_affected, host, pgsweep_version)
                    VALUES ('stats', 'analyze', 'succeeded', now() - interval '1 day', now() - interval '1 day', 0, 'old', '0.1.0');
                INSERT INTO pgsweep.job_totals (job, status, runs) VALUES ('stats', 'succeeded', 5);
                INSERT INTO pgsweep.archive_batches (job, table_name, file, format_version, row_count, bytes, sha256)
                    VALUES ('archive', 'processing_queue', 'processing_queue/2026/01/01/x.csv.zst', 1, 10, 100, 'ab');
                """)
            let config = try database.writeConfig(
                "metrics:\n  textfile: \(scratch.file("pgsweep.prom"))\njobs:\n  stats: { type: analyze, schedule: \"@daily\", force: true }",
                in: scratch.path)
            let refused = try CLI.run(["--config", config, "run", "stats"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("pgsweep's schema is at version 1, this pgsweep needs 5"), "\(refused.stderr)")
            let apply = try CLI.run(["--config", config, "schema", "apply"])
            #expect(apply.status == 0, "\(apply.all)")
            #expect(apply.stdout.contains("applied migration(s) 2, 3, 4, 5"), "\(apply.stdout)")
            #expect(try CLI.run(["--config", config, "run", "stats"]).status == 0)
            let history = try CLI.run(["--config", config, "history", "--json"])
            let runs = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(runs.map { $0["host"] as? String } .contains("old"), "\(history.stdout)")
            #expect(runs.count == 2)
            let metrics = try String(contentsOfFile: scratch.file("pgsweep.prom"), encoding: .utf8)
            #expect(metrics.contains("pgsweep_job_runs_total{job=\"stats\",table=\"public.processing_queue\",status=\"succeeded\"} 6"), "\(metrics)")
            let ledger = try connection.query("SELECT count(*) AS n FROM pgsweep.archive_batches WHERE database_system_id IS NULL")[0]
                .require(Int64.self, "n")
            #expect(ledger == 1)
        }
    }
}
