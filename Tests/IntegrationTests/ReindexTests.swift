import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

@Suite("Reindex")
struct ReindexTests {
    /// 200k fixture rows with the V007 indexes and pgstattuple; 70% of rows then deleted
    /// across the whole table (sparse leaf pages everywhere) and vacuumed.
    static func bloated(_ database: TestDatabase, _ scratch: ScratchFolder, job: String) throws -> String {
        let config = try RunnerTests.prepare(database, scratch, jobs: "  reindex: { type: reindex, schedule: \"0 4 * * 0\"\(job) }")
        let connection = try database.connect()
        try QueueFixture.load(connection, count: 200_000)
        try connection.execute("CREATE EXTENSION pgstattuple")
        try connection.execute("SET statement_timeout = 0")
        try connection.execute("DELETE FROM processing_queue WHERE id % 10 < 7")
        try connection.execute("VACUUM ANALYZE processing_queue")
        return config
    }

    static func sizes(_ connection: Connection) throws -> [String: (size: Int64, node: Int64)] {
        var result: [String: (Int64, Int64)] = [:]
        for row in try connection.query(
            """
            SELECT c.relname, pg_relation_size(c.oid), c.relfilenode::bigint FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'processing_queue'::regclass
            """)
        {
            result[try row.decode(String.self, at: 0)!] = (try row.decode(Int64.self, at: 1)!, try row.decode(Int64.self, at: 2)!)
        }
        return result
    }

    /// How many rebuilds the `job finished` line of a dry run plans.
    static func planned(_ stderr: String) -> Int {
        let line = stderr.split(separator: "\n").first { $0.contains("\"msg\":\"job finished\"") } ?? ""
        return line.components(separatedBy: "would rebuild").count - 1
    }

    static func invalid(_ connection: Connection) throws -> [String] {
        try connection.query(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1"
        ).map { try $0.decode(String.self, at: 0)! }
    }

    @Test("bloated indexes are rebuilt and shrink, all of them by default, or up to max_indexes; one under the threshold is untouched; a second run rebuilds nothing")
    func rebuildsBloated() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.bloated(database, scratch, job: ", bloat_threshold: 0.3, min_size: 64kB")
            let capped = try database.writeConfig(
                "jobs:\n  reindex: { type: reindex, schedule: \"0 4 * * 0\", bloat_threshold: 0.3, min_size: 64kB, max_indexes: 2 }",
                in: try { let folder = scratch.file("capped"); try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true); return folder }())
            let cappedDry = try CLI.run(["--config", capped, "--log-format", "json", "run", "reindex", "--dry-run"])
            #expect(Self.planned(cappedDry.stderr) == 2, "\(cappedDry.stderr)")
            let connection = try database.connect()
            // Built after the deletes, so packed: under the threshold.
            try connection.execute("CREATE INDEX fresh_updated_at ON processing_queue (updated_at)")
            let before = try Self.sizes(connection)

            let dry = try CLI.run(["--config", config, "--log-format", "json", "run", "reindex", "--dry-run"])
            #expect(dry.status == 0, "\(dry.all)")
            #expect(dry.stderr.contains("would rebuild idx_processing_queue_status_created_at"))
            #expect(Self.planned(dry.stderr) >= 6, "no cap by default: \(dry.stderr)")
            #expect(try Self.sizes(connection).mapValues(\.node) == before.mapValues(\.node))

            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "reindex"])
            #expect(run.status == 0, "\(run.all)")
            let after = try Self.sizes(connection)
            var rebuilt = 0
            for (name, old) in before where name != "fresh_updated_at" {
                let new = try #require(after[name])
                if new.node != old.node {
                    rebuilt += 1
                    #expect(new.size < old.size, "\(name): \(old.size) -> \(new.size)")
                }
            }
            #expect(rebuilt >= 6, "rebuilt \(rebuilt)")
            #expect(after["fresh_updated_at"]?.node == before["fresh_updated_at"]?.node)
            #expect(try Self.invalid(connection).isEmpty)

            let second = try CLI.run(["--config", config, "--log-format", "json", "run", "reindex"])
            #expect(second.status == 0)
            #expect(second.stderr.contains("\"detail.actions\":\"nothing to do\""), "\(second.stderr)")
            #expect(try Self.sizes(connection).mapValues(\.node) == after.mapValues(\.node))

            let status = try CLI.run(["--config", config, "status", "--indexes"])
            #expect(status.stdout.contains("pgstatindex"))
            #expect(status.stdout.contains("fresh_updated_at"))
        }
    }

    @Test("a leftover invalid _ccnew index from a cancelled rebuild is dropped; look-alikes are untouched")
    func dropsLeftovers() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(database, scratch, jobs: "  reindex: { type: reindex, schedule: \"@weekly\", bloat_threshold: 0.99 }")
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 10_000)
            // A real cancelled REINDEX CONCURRENTLY: an open writer makes it wait after it has
            // created the new index; the statement timeout then cancels it.
            let writer = try database.connect()
            try writer.execute("BEGIN")
            try writer.execute("INSERT INTO processing_queue (flow_name) VALUES ('w')")
            let reindexer = try database.connect()
            try reindexer.execute("SET statement_timeout = '1s'")
            #expect(throws: PostgresError.self) { try reindexer.execute("REINDEX INDEX CONCURRENTLY idx_processing_queue_pending") }
            try writer.execute("ROLLBACK")
            #expect(try Self.invalid(connection) == ["idx_processing_queue_pending_ccnew"])

            // Look-alikes: a valid index with a ccnew-like name, an invalid index whose base is
            // not an index, and another table's leftover.
            try connection.execute("CREATE INDEX idx_processing_queue_monitoring_ccnew1 ON processing_queue (flow_name)")
            try connection.execute("INSERT INTO processing_queue (flow_name) VALUES ('dup'), ('dup')")
            #expect(throws: PostgresError.self) {
                try connection.execute("CREATE UNIQUE INDEX CONCURRENTLY nosuchindex_ccnew ON processing_queue (flow_name)")
            }
            try connection.execute("CREATE TABLE other (v int)")
            try connection.execute("INSERT INTO other VALUES (1), (1)")
            try connection.execute("CREATE INDEX other_v ON other (v)")
            #expect(throws: PostgresError.self) { try connection.execute("CREATE UNIQUE INDEX CONCURRENTLY other_v_ccnew ON other (v)") }

            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "reindex"])
            #expect(run.status == 0, "\(run.all)")
            #expect(run.stderr.contains("dropped idx_processing_queue_pending_ccnew"))
            #expect(try Self.invalid(connection) == ["nosuchindex_ccnew", "other_v_ccnew"])
            #expect(try connection.query("SELECT to_regclass('idx_processing_queue_monitoring_ccnew1') IS NOT NULL")[0].decode(Bool.self, at: 0) == true)
        }
    }

    @Test("a rebuild cut short by statement_timeout leaves no _ccnew index and the run reports the failure")
    func timeoutLeavesNothing() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.bloated(database, scratch, job: ", bloat_threshold: 0.3, min_size: 64kB, max_indexes: 1, statement_timeout: 20ms")
            let connection = try database.connect()
            let run = try CLI.run(["--config", config, "--log-format", "json", "run", "reindex"])
            #expect(run.status == 1, "\(run.all)")
            #expect(run.stderr.contains("rebuild(s) failed"))
            #expect(try Self.invalid(connection).isEmpty)
            let status = try connection.query("SELECT status, error FROM pgsweep.job_runs ORDER BY id DESC LIMIT 1")[0]
            #expect(try status.decode(String.self, at: 0) == "failed")
            #expect(try status.decode(String.self, at: 1)?.contains("statement timeout") == true)
        }
    }

    @Test("workers keep inserting and claiming rows during the rebuild without an error")
    func workersUnaffected() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.bloated(database, scratch, job: ", bloat_threshold: 0.3, min_size: 64kB, max_indexes: 20")
            let process = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "reindex"])
            let worker = try database.connect()
            var rounds = 0
            var errors: [String] = []
            while !process.hasExited {
                do {
                    try worker.execute("INSERT INTO processing_queue (flow_name) VALUES ('email-send')")
                    try worker.transaction { connection in
                        try connection.execute(
                            """
                            UPDATE processing_queue SET status = 'processing', flow_instance_id = 'w', claimed_at = now()
                            WHERE id IN (SELECT id FROM processing_queue WHERE flow_name = 'email-send' AND status = 'pending'
                                         ORDER BY created_at LIMIT 10 FOR UPDATE SKIP LOCKED)
                            """)
                    }
                    rounds += 1
                } catch {
                    errors.append("\(error)")
                }
            }
            let output = try process.wait()
            #expect(output.status == 0, "\(output.all)")
            #expect(errors.isEmpty, "\(errors.prefix(3))")
            #expect(rounds > 0)
        }
    }

    @Test("leftover names: _ccnew/_ccold with digits after an index's (possibly cut) name")
    func leftoverNames() {
        let indexes = ["idx_a", "idx_processing_queue_processing_claimed_at_long_name_for_cutting"]
        #expect(ReindexJob.isLeftover("idx_a_ccnew", of: indexes))
        #expect(ReindexJob.isLeftover("idx_a_ccnew12", of: indexes))
        #expect(ReindexJob.isLeftover("idx_a_ccold", of: indexes))
        #expect(!ReindexJob.isLeftover("idx_a_ccnew_backup", of: indexes))
        #expect(!ReindexJob.isLeftover("idx_b_ccnew", of: indexes))
        #expect(!ReindexJob.isLeftover("_ccnew", of: indexes))
        #expect(ReindexJob.isLeftover("idx_processing_queue_processing_claimed_at_long_name_for_c_ccnew", of: indexes))
    }
}
