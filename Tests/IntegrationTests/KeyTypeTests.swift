import ArchiveFormat
import Foundation
import LibPQ
import Testing
import TestSupport

/// Tables as users have them: keys of any type, `id` anywhere, or no usable key at all.
@Suite("Key types")
struct KeyTypeTests {
    /// Creates `name` with the queue's columns (`id` of type `idType`, placed where
    /// `idFirst` says), its primary key on `id`, and the fixture's rows with new ids.
    static func createTable(_ connection: Connection, name: String, idType: String, idFirst: Bool = true, key: Bool = true) throws {
        let id = "id \(idType) NOT NULL"
        let rest = """
            flow_name text NOT NULL, status text NOT NULL DEFAULT 'pending', payload jsonb NOT NULL DEFAULT '{}',
            retry_count integer NOT NULL DEFAULT 0, error_message text, flow_instance_id text,
            created_at timestamptz NOT NULL DEFAULT now(), claimed_at timestamptz, completed_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now()
            """
        try connection.execute("CREATE TABLE \(name) (\(idFirst ? "\(id), \(rest)" : "\(rest), \(id)")\(key ? ", PRIMARY KEY (id)" : ""))")
        let value = switch idType {
        case "uuid": "gen_random_uuid()"
        case "text": "'job-' || md5(q.id::text)"
        default: "q.id"
        }
        try connection.execute(
            """
            INSERT INTO \(name) (id, flow_name, status, payload, retry_count, error_message, flow_instance_id, created_at, claimed_at,
                                 completed_at, updated_at)
            SELECT \(value), flow_name, status, payload, retry_count, error_message, flow_instance_id, created_at, claimed_at,
                   completed_at, updated_at FROM processing_queue q
            """)
        try connection.execute("ANALYZE \(name)")
    }

    static func prepare(_ database: TestDatabase, _ scratch: ScratchFolder, table: String, job: String = "") throws -> String {
        try RunnerTests.prepare(
            database, scratch,
            jobs: "  archive: { type: archive, schedule: \"0 3 * * *\", completed_before: 7d, failed_before: 30d, batch_size: 400\(job) }",
            extra: "table: \(table)\narchive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB")
    }

    static func count(_ connection: Connection, _ sql: String) throws -> Int64 {
        try connection.query(sql)[0].require(Int64.self, "count")
    }

    @Test("a table keyed by uuid, text or integer archives and restores every row exactly; a dry run counts what would come back", arguments: ["uuid", "text", "integer"])
    func roundTrip(idType: String) async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 2_000)
            try Self.createTable(connection, name: "keyed", idType: idType)
            try connection.execute("CREATE TABLE original AS SELECT * FROM keyed")
            let config = try Self.prepare(database, scratch, table: "keyed")
            let archived = try Self.count(connection, "SELECT count(*) FROM keyed WHERE \(ArchiveTests.archivable)")
            #expect(archived > 0)

            let run = try CLI.run(["--config", config, "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            #expect(try Self.count(connection, "SELECT count(*) FROM keyed") == 2_000 - archived)
            let dry = try CLI.run(["--config", config, "restore", scratch.file("archive"), "--dry-run"])
            #expect(dry.status == 0, "\(dry.all)")
            #expect(dry.stdout.contains("would insert \(archived) rows; 0 already present"), "\(dry.stdout)")

            try connection.execute("CREATE TABLE copy (LIKE keyed INCLUDING ALL)")
            let restore = try CLI.run(["--config", config, "restore", scratch.file("archive"), "--into", "copy"])
            #expect(restore.status == 0, "\(restore.all)")
            #expect(restore.stdout.contains("inserted \(archived) rows; 0 already present"), "\(restore.stdout)")
            #expect(try Self.count(
                connection, "SELECT count(*) FROM original o JOIN copy c USING (id) WHERE ROW(o.*) IS NOT DISTINCT FROM ROW(c.*)") == archived)
            let again = try CLI.run(["--config", config, "restore", scratch.file("archive"), "--into", "copy", "--dry-run"])
            #expect(again.stdout.contains("would insert 0 rows; \(archived) already present"), "\(again.stdout)")
        }
    }

    @Test("a table without a unique key on id is refused before any row moves, and doctor says what to add")
    func noKey() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 1_000)
            try Self.createTable(connection, name: "loose", idType: "bigint", key: false)
            try connection.execute("CREATE INDEX loose_id ON loose (id)")  // an index, but not a unique one
            let config = try Self.prepare(database, scratch, table: "loose")
            let run = try CLI.run(["--config", config, "run", "archive"])
            #expect(run.status == 1, "\(run.all)")
            #expect(run.stderr.contains("has no primary key or unique constraint on id"), "\(run.stderr)")
            #expect(run.stderr.contains("ADD PRIMARY KEY (id)"), "\(run.stderr)")
            #expect(try Self.count(connection, "SELECT count(*) FROM loose") == 1_000)
            #expect(ArchivePaths.dataFiles(under: scratch.file("archive")).isEmpty)
            let dry = try CLI.run(["--config", config, "run", "archive", "--dry-run"])
            #expect(dry.status == 1, "\(dry.all)")
            let doctor = try CLI.run(["--config", config, "doctor"])
            #expect(doctor.status == 1, "\(doctor.all)")
            #expect(doctor.stdout.contains("problem key"), "\(doctor.stdout)")
        }
    }

    @Test("with id not the first column, repair removes a leftover whose rows are in the table and keeps a file whose rows are nowhere else")
    func idNotFirst() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 3_000)
            try Self.createTable(connection, name: "shuffled", idType: "bigint", idFirst: false)
            let config = try Self.prepare(database, scratch, table: "shuffled")
            let killed = try CLI.run(["--config", config, "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "archive-after-rename:2"])
            #expect(killed.status == 128 + SIGKILL)
            #expect(try CLI.run(["--config", config, "run", "archive"]).status == 0)
            // A ledger row lost (say, to a restored backup): its file's rows are in no table and no other file.
            let lost = try connection.query("DELETE FROM pgsweep.archive_batches WHERE id = (SELECT max(id) FROM pgsweep.archive_batches) RETURNING file")[0]
                .require(String.self, "file")
            let (status, states, output) = try ArchiveIdentityTests.verify(config, repair: true)
            #expect(status == 4, "\(output.all)")
            #expect(states[lost] == "unledgered", "\(states)")
            #expect(states.values.filter { $0 == "leftover" }.count == 1, "\(states)")
            #expect(FileManager.default.fileExists(atPath: "\(scratch.file("archive"))/\(lost)"))
            let after = try ArchiveIdentityTests.verify(config)
            #expect(after.states.values.filter { $0 == "leftover" }.isEmpty, "\(after.states)")
            #expect(after.states[lost] == "unledgered")
        }
    }
}
