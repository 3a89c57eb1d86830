import ArchiveFormat
import Foundation
import LibPQ
import Testing
import TestSupport

/// The archive job and restore against a real server and real files.
@Suite("Archive and restore")
struct ArchiveTests {
    static let archivable = """
        (status = 'completed' AND completed_at < now() - interval '7 days')
        OR (status = 'failed' AND completed_at IS NULL AND retry_count >= 3 AND created_at < now() - interval '30 days')
        """

    static func prepare(_ database: TestDatabase, _ scratch: ScratchFolder, rows: Int, job: String = "", minFreeSpace: String = "1kB") throws -> String {
        let config = try RunnerTests.prepare(
            database, scratch,
            jobs: "  archive: { type: archive, schedule: \"0 3 * * *\", completed_before: 7d, failed_before: 30d\(job) }",
            extra: "archive:\n  directory: \(scratch.file("archive"))\n  min_free_space: \(minFreeSpace)")
        if rows > 0 { try QueueFixture.load(try database.connect(), count: rows) }
        return config
    }

    static func ids(_ connection: Connection, _ sql: String = "SELECT id FROM processing_queue") throws -> Set<Int64> {
        Set(try connection.query(sql).map { try $0.decode(Int64.self, at: 0)! })
    }

    /// Adds 20,000 archivable completed rows whose payloads compress poorly (about 100 bytes
    /// of hex each), to fill a small disk quickly.
    static func insertNoisyRows(_ connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO processing_queue (flow_name, status, payload, created_at, completed_at)
            SELECT 'f', 'completed', jsonb_build_object('noise', md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text)),
                   now() - interval '30 days', now() - interval '30 days'
            FROM generate_series(1, 20000) g
            """)
    }

    /// Every row is in the table or in exactly one committed ledger batch whose file matches.
    static func checkInvariant(_ connection: Connection, original: Set<Int64>, root: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try checkInvariant(connection, original: original, store: LocalArchiveStore(root: root), sourceLocation: sourceLocation)
    }

    /// Every row is in the table or in exactly one committed ledger batch whose file in `store` matches.
    static func checkInvariant(
        _ connection: Connection, original: Set<Int64>, store: any ArchiveStore, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let table = try ids(connection)
        var archived: [Int64] = []
        for row in try connection.query("SELECT file, sha256, row_count FROM pgsweep.archive_batches") {
            let key = try row.decode(String.self, at: 0)!
            let verified = try ArchiveFileReader.verify(store, key)
            #expect(verified.manifest.sha256 == (try row.decode(String.self, at: 1)), sourceLocation: sourceLocation)
            #expect(verified.rows == (try row.decode(Int64.self, at: 2)), sourceLocation: sourceLocation)
            var scanner = CSVRowScanner(capture: [0])
            try ArchiveFileReader.stream(store, key) { bytes in
                try scanner.consume(bytes) { archived.append(Int64($0[0]!)!) }
            }
        }
        let archivedSet = Set(archived)
        #expect(archivedSet.count == archived.count, "a row is in two ledger batches", sourceLocation: sourceLocation)
        #expect(archivedSet.isDisjoint(with: table), "a row is both archived and in the table", sourceLocation: sourceLocation)
        #expect(archivedSet.union(table) == original, "rows lost: \(original.subtracting(archivedSet.union(table)).count)", sourceLocation: sourceLocation)
    }

    /// 200,000 archivable rows whose values are everything CSV, JSON and text encodings find
    /// hard: quotes, commas, newlines, backslashes, `\N`, NULL against empty, 4-byte UTF-8,
    /// microseconds.
    static func insertHostileRows(_ connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO processing_queue (flow_name, status, payload, retry_count, error_message, flow_instance_id,
                                          created_at, claimed_at, completed_at, updated_at)
            SELECT CASE g % 4 WHEN 0 THEN 'plain' WHEN 1 THEN 'with,comma' WHEN 2 THEN 'with "quote"' ELSE 'ünïcødé 😀' END,
                   CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'completed' END,
                   jsonb_build_object('text', E'quote " comma , newline \\n backslash \\\\ tab \\t 𝄞 😀', 'n', g,
                                      'nested', jsonb_build_object('list', jsonb_build_array(1, 'x', null, true, 1.5e-7)),
                                      'empty', '', 'null', null),
                   CASE WHEN g % 10 = 0 THEN 3 + g % 4 ELSE g % 3 END,
                   CASE g % 7 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN E'line1\\nline2\\r\\n' WHEN 3 THEN 'a,b,"c"'
                              WHEN 4 THEN E'back\\\\slash\\\\' WHEN 5 THEN E'\\\\N' ELSE '𝄞 4-byte' END,
                   CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN '' ELSE 'worker-' || g END,
                   timestamptz '2026-01-01 00:00:00.123456+00' - g * interval '1.000001 seconds' - interval '40 days',
                   CASE WHEN g % 2 = 0 THEN timestamptz '2026-01-01 00:00:00+00' - g * interval '0.5 seconds' - interval '40 days' END,
                   CASE WHEN g % 10 = 0 THEN NULL ELSE timestamptz '2026-01-01 12:34:56.654321+00' - g * interval '1 second' - interval '39 days' END,
                   timestamptz '2026-01-01 00:00:00.000001+00' - interval '39 days'
            FROM generate_series(1, 200000) g
            """)
    }

    /// `archive verify` output, which must show nothing but ok files and leftovers.
    static func verifyShowsOnlyLeftovers(
        _ config: String, environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let verify = try CLI.run(["--config", config, "archive", "verify", "--json"], environment: environment)
        #expect(verify.status == 0, "\(verify.all)", sourceLocation: sourceLocation)
        let items = try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [[String: Any]] ?? []
        for item in items {
            #expect(["ok", "leftover"].contains(item["state"] as? String), "\(item)", sourceLocation: sourceLocation)
        }
    }

    @Test("hostile values survive archive and restore exactly; restoring again inserts nothing")
    func roundTrip() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, rows: 0)
            let connection = try database.connect()
            // The server's defaults are neither UTC nor ISO; pgsweep must not depend on them.
            try connection.execute("ALTER DATABASE \(quoteIdentifier(database.name)) SET TimeZone = 'Pacific/Chatham'")
            try connection.execute("ALTER DATABASE \(quoteIdentifier(database.name)) SET DateStyle = 'SQL, DMY'")
            try connection.execute("SET statement_timeout = 0")
            try Self.insertHostileRows(connection)
            try connection.execute("CREATE TABLE original AS SELECT * FROM processing_queue")
            try connection.execute("CREATE TABLE restored (LIKE processing_queue INCLUDING ALL)")

            let run = try CLI.run(["--config", config, "run", "archive"])
            #expect(run.status == 0, "\(run.all)")
            #expect(try connection.query("SELECT count(*) FROM processing_queue")[0].decode(Int.self, at: 0) == 0)
            let restore = try CLI.run(["--config", config, "restore", scratch.file("archive"), "--into", "restored"])
            #expect(restore.status == 0, "\(restore.all)")
            #expect(restore.stdout.contains("inserted 200000 rows; 0 already present"))
            let same = try connection.query(
                "SELECT count(*) FROM original o JOIN restored r USING (id) WHERE ROW(o.*) IS NOT DISTINCT FROM ROW(r.*)")[0]
                .decode(Int.self, at: 0)
            #expect(same == 200_000)
            let again = try CLI.run(["--config", config, "restore", scratch.file("archive"), "--into", "restored"])
            #expect(again.status == 0)
            #expect(again.stdout.contains("inserted 0 rows; 200000 already present"))
            // New rows in the restored table get ids after the restored ones.
            let next = try connection.query("INSERT INTO restored (flow_name) VALUES ('x') RETURNING id")[0].decode(Int64.self, at: 0)!
            #expect(next > 200_000)
        }
    }

    @Test("killed at each step of a batch, no row is lost; verify lists only leftovers; the next run completes", arguments: [
        "archive-mid-stream", "archive-after-fsync", "archive-between-files", "archive-after-rename", "archive-after-ledger",
        "batch-after-commit",
    ])
    func crashAtEachStep(point: String) async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, rows: 10_000, job: ", batch_size: 1000")
            let connection = try database.connect()
            let original = try Self.ids(connection)
            let root = scratch.file("archive")

            let killed = try CLI.run(["--config", config, "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "\(point):2"])
            #expect(killed.status == 128 + SIGKILL, "\(killed.all)")
            try Self.checkInvariant(connection, original: original, root: root)
            try Self.verifyShowsOnlyLeftovers(config)

            let next = try CLI.run(["--config", config, "run", "archive"])
            #expect(next.status == 0, "\(next.all)")
            try Self.checkInvariant(connection, original: original, root: root)
            #expect(try connection.query("SELECT count(*) FROM processing_queue WHERE \(Self.archivable)")[0].decode(Int.self, at: 0) == 0)

            let repair = try CLI.run(["--config", config, "archive", "verify", "--repair", "--json"])
            #expect(repair.status == 0, "\(repair.all)")
            let clean = try CLI.run(["--config", config, "archive", "verify", "--json"])
            let items = try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(!items.isEmpty && items.allSatisfy { $0["state"] as? String == "ok" }, "\(clean.stdout)")
            try Self.checkInvariant(connection, original: original, root: root)
        }
    }

    @Test("SIGKILL at 20 random moments of a long archive run: no row lost, and the runs finish the work")
    func randomKills() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, rows: 40_000, job: ", batch_size: 300")
            let connection = try database.connect()
            let original = try Self.ids(connection)
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<20 {
                let before = try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0)!
                let step = Int.random(in: 0...2, using: &generator)
                let process = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "run", "archive"])
                // A random point: after 0 to 2 more committed batches, or mid-batch when 0.
                _ = try eventually(within: 60) {
                    if process.hasExited { return true }
                    let batches = try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0)!
                    let writing = !ArchivePaths.temporaryFiles(under: scratch.file("archive")).isEmpty
                    return batches >= before + step && (step > 0 || writing)
                }
                process.signal(SIGKILL)
                _ = try process.wait()
                try Self.checkInvariant(connection, original: original, root: scratch.file("archive"))
            }
            let last = try CLI.run(["--config", config, "run", "archive"])
            #expect(last.status == 0, "\(last.all)")
            try Self.checkInvariant(connection, original: original, root: scratch.file("archive"))
            #expect(try connection.query("SELECT count(*) FROM processing_queue WHERE \(Self.archivable)")[0].decode(Int.self, at: 0) == 0)
            try Self.verifyShowsOnlyLeftovers(config)
        }
    }

    @Test("damaged archives are refused with exit 4 naming the file, and no row is inserted")
    func badArchives() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, rows: 2_000, job: ", batch_size: 5000")
            #expect(try CLI.run(["--config", config, "run", "archive"]).status == 0)
            let connection = try database.connect()
            try connection.execute("CREATE TABLE target (LIKE processing_queue INCLUDING ALL)")
            try connection.execute("CREATE TABLE narrow (id bigint PRIMARY KEY, flow_name text)")
            let good = try #require(ArchivePaths.dataFiles(under: scratch.file("archive")).first)

            func damaged(_ name: String, _ change: (String) throws -> Void) throws -> String {
                let folder = scratch.file("bad-\(name)")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let path = "\(folder)/\((good as NSString).lastPathComponent)"
                try FileManager.default.copyItem(atPath: good, toPath: path)
                try FileManager.default.copyItem(atPath: ArchiveManifest.path(for: good), toPath: ArchiveManifest.path(for: path))
                try change(path)
                return path
            }
            func manifest(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
                let url = URL(fileURLWithPath: ArchiveManifest.path(for: path))
                var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
                change(&object)
                try JSONSerialization.data(withJSONObject: object).write(to: url)
            }
            func resign(_ path: String) throws {
                let sha = try ArchiveFileReader.sha256(of: path)
                let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
                try manifest(path) { $0["sha256"] = sha; $0["bytes"] = size }
            }
            let cases: [(String, String)] = [
                (try damaged("mid-frame") { path in
                    let data = try Data(contentsOf: URL(fileURLWithPath: path))
                    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
                    try resign(path)
                }, "truncated"),
                (try damaged("frame-boundary") { path in
                    // A second frame appended and declared, then cut off exactly at the boundary.
                    try manifest(path) { $0["rows"] = ($0["rows"] as! Int) + 1 }
                }, "its manifest says"),
                (try damaged("flipped") { path in
                    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                    bytes[bytes.count / 2] ^= 0x04
                    try Data(bytes).write(to: URL(fileURLWithPath: path))
                }, "SHA-256"),
                (try damaged("count") { path in try manifest(path) { $0["rows"] = ($0["rows"] as! Int) - 1 } }, "its manifest says"),
                (try damaged("sha") { path in try manifest(path) { $0["sha256"] = String(repeating: "a", count: 64) } }, "SHA-256"),
                (try damaged("no-manifest") { path in try FileManager.default.removeItem(atPath: ArchiveManifest.path(for: path)) }, "manifest"),
                (try damaged("empty") { path in
                    try Data().write(to: URL(fileURLWithPath: path))
                    try resign(path)
                }, "empty"),
            ]
            for (path, phrase) in cases {
                let output = try CLI.run(["--config", config, "restore", path, "--into", "target"])
                #expect(output.status == 4, "\(path): \(output.all)")
                #expect(output.stderr.contains(path), "\(output.stderr)")
                #expect(output.stderr.contains(phrase), "\(phrase): \(output.stderr)")
            }
            // One bad file among good ones: nothing at all is inserted.
            let mixed = try CLI.run(["--config", config, "restore", good, cases[2].0, "--into", "target"])
            #expect(mixed.status == 4)
            let columns = try CLI.run(["--config", config, "restore", good, "--into", "narrow"])
            #expect(columns.status == 4)
            #expect(columns.stderr.contains("do not match table public.narrow"))
            #expect(try connection.query("SELECT (SELECT count(*) FROM target) + (SELECT count(*) FROM narrow)")[0].decode(Int.self, at: 0) == 0)

            let missing = try CLI.run(["--config", config, "restore", scratch.file("no-such-file.csv.zst")])
            #expect(missing.status == 2)
            #expect(missing.stderr.contains("no such file or folder"))
        }
    }

    @Test("a full disk fails the batch: exit 1, table intact, no partial file under a final name")
    func diskFull() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let disk = try SmallDisk(at: scratch.file("archive"), size: "256k")
            defer { disk.unmount() }
            let mountPoint = disk.path
            let config = try Self.prepare(database, scratch, rows: 0, job: ", batch_size: 20000")
            let connection = try database.connect()
            try Self.insertNoisyRows(connection)
            let output = try CLI.run(["--config", config, "run", "archive"])
            #expect(output.status == 1, "\(output.all)")
            #expect(output.stderr.contains("No space left on device"), "\(output.stderr)")
            #expect(try connection.query("SELECT count(*) FROM processing_queue")[0].decode(Int.self, at: 0) == 20_000)
            #expect(ArchivePaths.dataFiles(under: mountPoint).isEmpty)
            #expect(ArchivePaths.temporaryFiles(under: mountPoint).isEmpty)
            #expect(try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("too little free space or an unusable folder stops the job before any row moves")
    func refusesToStart() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, rows: 1_000, minFreeSpace: "100000TB")
            let connection = try database.connect()
            let before = try connection.query("SELECT count(*) FROM processing_queue")[0].decode(Int.self, at: 0)
            let output = try CLI.run(["--config", config, "run", "archive"])
            #expect(output.status == 1)
            #expect(output.stderr.contains("less than archive.min_free_space"), "\(output.stderr)")

            let blocked = scratch.file("file-not-folder")
            try "x".write(toFile: blocked, atomically: true, encoding: .utf8)
            let other = try database.writeConfig(
                "archive:\n  directory: \(blocked)/archive\n  min_free_space: 1kB\njobs:\n  archive: { type: archive, schedule: \"@daily\" }",
                in: scratch.path)
            let unusable = try CLI.run(["--config", other, "run", "archive"])
            #expect(unusable.status == 1)
            #expect(unusable.stderr.contains("file-not-folder exists and is not a folder"), "\(unusable.stderr)")
            #expect(try connection.query("SELECT count(*) FROM processing_queue")[0].decode(Int.self, at: 0) == before)
        }
    }
}
