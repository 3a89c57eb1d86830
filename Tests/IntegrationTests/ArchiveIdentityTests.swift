import ArchiveFormat
import Foundation
import LibPQ
import Testing
import TestSupport

/// Archive files belong to their database and table: many of them share one folder, and no
/// command of one ever mistakes another's files for its own.
@Suite("Archive identity")
struct ArchiveIdentityTests {
    /// A configuration for `table` in `database`, archiving into `archive`, in a folder of its own.
    static func config(_ database: TestDatabase, table: String, archive: String, in folder: String, job: String = "") throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = try database.writeConfig(
            """
            table: \(table)
            archive:
              directory: \(archive)
              min_free_space: 1kB
            jobs:
              archive: { type: archive, schedule: "0 3 * * *", completed_before: 7d, failed_before: 30d, batch_size: 300\(job) }
            """, in: folder)
        let apply = try CLI.run(["--config", config, "schema", "apply"])
        #expect(apply.status == 0, "\(apply.all)")
        return config
    }

    /// Every id of `table` as text.
    static func ids(_ connection: Connection, _ table: String) throws -> Set<String> {
        Set(try connection.query("SELECT id::text FROM \(table)").map { try $0.require(String.self, "id") })
    }

    /// The ids held by the ledgered files of `table` (its quoted, qualified name), each file
    /// verified; the key column is found by the header.
    static func archivedIDs(_ connection: Connection, table: String, root: String) throws -> [String] {
        var ids: [String] = []
        for row in try connection.query("SELECT file FROM pgsweep.archive_batches WHERE table_name = $1", [table]) {
            let path = "\(root)/\(try row.require(String.self, "file"))"
            _ = try ArchiveFileReader.verify(path)
            var scanner = CSVRowScanner(captureNames: ["id"])
            try ArchiveFileReader.stream(path) { bytes in try scanner.consume(bytes) { ids.append($0[0]!) } }
        }
        return ids
    }

    /// Every row of `table` is in the table or in exactly one of its ledgered files.
    static func checkNothingLost(
        _ connection: Connection, table: String, key: String, original: Set<String>, root: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let present = try ids(connection, table)
        let archived = try archivedIDs(connection, table: key, root: root)
        let archivedSet = Set(archived)
        #expect(archivedSet.count == archived.count, "a row of \(table) is in two ledgered files", sourceLocation: sourceLocation)
        #expect(archivedSet.isDisjoint(with: present), "a row of \(table) is both archived and in the table", sourceLocation: sourceLocation)
        #expect(
            archivedSet.union(present) == original, "rows of \(table) lost: \(original.subtracting(archivedSet.union(present)).count)",
            sourceLocation: sourceLocation)
        #expect(!archived.isEmpty, "nothing of \(table) was archived", sourceLocation: sourceLocation)
    }

    /// The states `archive verify --json` reports, by file.
    static func verify(_ config: String, repair: Bool = false) throws -> (status: Int32, states: [String: String], output: ProcessOutput) {
        let output = try CLI.run(["--config", config, "archive", "verify", "--json"] + (repair ? ["--repair"] : []))
        let items = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [[String: Any]] ?? []
        var states: [String: String] = [:]
        for item in items { states[item["file"] as? String ?? "?"] = item["state"] as? String }
        return (output.status, states, output)
    }

    @Test("two tables of one database and a database of the same name on another cluster share one folder: each archives, verifies and repairs its own files alone, and no row is lost")
    func sharedFolder() async throws {
        let otherCluster = try TestCluster.startAnother()
        try await TestDatabase.with(queueTable: true) { first in
            try await TestDatabase.with(queueTable: true, cluster: otherCluster, name: first.name) { second in
                let scratch = try ScratchFolder()
                let shared = scratch.file("shared-archive")
                let one = try first.connect()
                try QueueFixture.load(one, count: 3_000)
                try one.execute("CREATE SCHEMA tenant")
                try one.execute("CREATE TABLE tenant.processing_queue (LIKE public.processing_queue INCLUDING ALL)")
                try one.execute("INSERT INTO tenant.processing_queue SELECT * FROM public.processing_queue")
                let two = try second.connect()
                try QueueFixture.load(two, count: 3_000)
                // The same ids everywhere: exactly what made the old repair remove other tables' files.
                let originals = [
                    try Self.ids(one, "public.processing_queue"), try Self.ids(one, "tenant.processing_queue"),
                    try Self.ids(two, "public.processing_queue"),
                ]
                #expect(originals[0] == originals[1] && originals[1] == originals[2])

                let configs = [
                    try Self.config(first, table: "processing_queue", archive: shared, in: scratch.file("a")),
                    try Self.config(first, table: "tenant.processing_queue", archive: shared, in: scratch.file("b")),
                    try Self.config(second, table: "processing_queue", archive: shared, in: scratch.file("c")),
                ]
                // Leftovers of interrupted runs in two of the three: a whole file, and one whose manifest never came.
                let crashA = try CLI.run(["--config", configs[0], "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "archive-after-rename:2"])
                #expect(crashA.status == 128 + SIGKILL, "\(crashA.all)")
                let crashC = try CLI.run(["--config", configs[2], "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "archive-between-files:3"])
                #expect(crashC.status == 128 + SIGKILL, "\(crashC.all)")
                for config in configs {
                    let run = try CLI.run(["--config", config, "run", "archive"])
                    #expect(run.status == 0, "\(run.all)")
                }
                let folders = try FileManager.default.contentsOfDirectory(atPath: shared).sorted()
                #expect(folders.count == 2, "one folder per database: \(folders)")

                // verify from each: its own files only, no other table's ledgered file called missing.
                var before: [[String: String]] = []
                for config in configs {
                    let (status, states, output) = try Self.verify(config)
                    #expect(status == 0, "\(output.all)")
                    #expect(!states.values.contains("missing") && !states.values.contains("unledgered"), "\(states)")
                    #expect(output.stderr.contains("ignored"), "\(output.stderr)")
                    before.append(states)
                }
                #expect(before[0].values.filter { $0 == "leftover" }.count == 1, "\(before[0])")
                #expect(!before[1].values.contains("leftover"), "\(before[1])")
                #expect(before[2].values.filter { $0 == "leftover" }.count == 1, "\(before[2])")
                let allFiles = before.flatMap(\.keys)
                #expect(Set(allFiles).count == allFiles.count, "two configurations claimed the same file")

                for config in configs {
                    let (status, _, output) = try Self.verify(config, repair: true)
                    #expect(status == 0, "\(output.all)")
                }
                for (index, config) in configs.enumerated() {
                    let (status, states, output) = try Self.verify(config)
                    #expect(status == 0, "\(output.all)")
                    #expect(states.values.allSatisfy { $0 == "ok" }, "\(states)")
                    // Repairs removed leftovers only: every ledgered file of every table is still there.
                    #expect(Set(states.keys) == Set(before[index].filter { $0.value == "ok" }.keys))
                }
                try Self.checkNothingLost(
                    one, table: "public.processing_queue", key: #""public"."processing_queue""#, original: originals[0], root: shared)
                try Self.checkNothingLost(
                    one, table: "tenant.processing_queue", key: #""tenant"."processing_queue""#, original: originals[1], root: shared)
                try Self.checkNothingLost(
                    two, table: "public.processing_queue", key: #""public"."processing_queue""#, original: originals[2], root: shared)

                // Restore takes its own files from the shared folder and skips the rest, saying so.
                try one.execute("CREATE TABLE copy (LIKE public.processing_queue INCLUDING ALL)")
                let restore = try CLI.run(["--config", configs[0], "restore", shared, "--dry-run"])
                #expect(restore.status == 0, "\(restore.all)")
                #expect(restore.stdout.contains("ignored"), "\(restore.stdout)")
                let archivedA = try Self.archivedIDs(one, table: #""public"."processing_queue""#, root: shared).count
                #expect(restore.stdout.contains("would insert \(archivedA) rows"), "\(restore.stdout)")
            }
        }
    }

    @Test("restore refuses a named file of another table unless --into names the target")
    func restoreRefusesOtherTables() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 500)
            try connection.execute("CREATE SCHEMA tenant")
            try connection.execute("CREATE TABLE tenant.processing_queue (LIKE public.processing_queue INCLUDING ALL)")
            let archive = scratch.file("archive")
            let mine = try Self.config(database, table: "processing_queue", archive: archive, in: scratch.file("a"))
            let theirs = try Self.config(database, table: "tenant.processing_queue", archive: archive, in: scratch.file("b"))
            #expect(try CLI.run(["--config", mine, "run", "archive"]).status == 0)
            let file = try #require(ArchivePaths.dataFiles(under: archive).first)
            let refused = try CLI.run(["--config", theirs, "restore", file])
            #expect(refused.status == 2, "\(refused.all)")
            #expect(refused.stderr.contains("holds rows of database \(database.name)"), "\(refused.stderr)")
            #expect(refused.stderr.contains("--into"), "\(refused.stderr)")
            #expect(try connection.query("SELECT count(*) AS n FROM tenant.processing_queue")[0].require(Int64.self, "n") == 0)
            let into = try CLI.run(["--config", theirs, "restore", file, "--into", "tenant.processing_queue"])
            #expect(into.status == 0, "\(into.all)")
            #expect(try connection.query("SELECT count(*) AS n FROM tenant.processing_queue")[0].require(Int64.self, "n") > 0)
        }
    }

    @Test("format 1 files keep working: a ledgered one verifies and restores; an unledgered one, whose database is unknown, is left alone")
    func formatOne() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 1_000)
            let root = scratch.file("archive")
            let config = try Self.config(database, table: "processing_queue", archive: root, in: scratch.file("a"))
            #expect(try CLI.run(["--config", config, "run", "archive"]).status == 0)
            let current = try #require(ArchivePaths.dataFiles(under: root).first)

            // Two files as pgsweep's first format wrote them: under <table>/, manifests without a source.
            func legacy(_ name: String) throws -> (relative: String, manifest: [String: Any]) {
                let relative = "processing_queue/2026/11/29/\(name)"
                let path = "\(root)/\(relative)"
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: current, toPath: path)
                var manifest = try #require(
                    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ArchiveManifest.path(for: current)))) as? [String: Any])
                manifest["format_version"] = 1
                manifest["table"] = "processing_queue"
                manifest["file"] = name
                manifest["source"] = nil
                manifest["key"] = nil
                try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: ArchiveManifest.path(for: path)))
                return (relative, manifest)
            }
            let ledgered = try legacy("processing_queue-20261129T030000Z-900-0001.csv.zst")
            let stray = try legacy("processing_queue-20261129T030000Z-901-0001.csv.zst")
            try connection.execute(
                """
                INSERT INTO pgsweep.archive_batches (run_id, job, table_name, file, format_version, row_count, bytes, sha256)
                VALUES (900, 'archive', 'processing_queue', $1, 1, $2, $3, $4)
                """, [ledgered.relative, ledgered.manifest["rows"] as? Int ?? 0, ledgered.manifest["bytes"] as? Int ?? 0,
                      ledgered.manifest["sha256"] as? String ?? ""])

            let (status, states, output) = try Self.verify(config, repair: true)
            #expect(status == 0, "\(output.all)")
            #expect(states[ledgered.relative] == "ok", "\(states)")
            #expect(states[stray.relative] == nil, "\(states)")
            #expect(output.stderr.contains("1 format 1 file(s)"), "\(output.stderr)")
            #expect(FileManager.default.fileExists(atPath: "\(root)/\(stray.relative)"), "repair never removes a file it cannot attribute")

            try connection.execute("CREATE TABLE copy (LIKE processing_queue INCLUDING ALL)")
            let restore = try CLI.run(["--config", config, "restore", "\(root)/\(ledgered.relative)", "--into", "copy"])
            #expect(restore.status == 0, "\(restore.all)")
            #expect(restore.stdout.contains("inserted \(ledgered.manifest["rows"] as? Int ?? -1) rows"), "\(restore.stdout)")
            let named = try CLI.run(["--config", config, "restore", "\(root)/\(ledgered.relative)", "--dry-run"])
            #expect(named.status == 0, "a format 1 file naming the configured table is this table's: \(named.all)")
        }
    }
}
