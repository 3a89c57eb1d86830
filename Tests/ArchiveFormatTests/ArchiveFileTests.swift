import ArchiveFormat
import Foundation
import Testing
import TestSupport
import Zstd

@Suite("Archive files")
struct ArchiveFileTests {
    static let source = ArchiveSource(systemIdentifier: "7714303108876617977", database: "app", schema: "public", table: "t")
    static let columns = [ArchiveManifest.Column(name: "id", type: "bigint"), ArchiveManifest.Column(name: "created_at", type: "timestamp with time zone")]

    /// Writes and publishes a file of `rows` rows; returns its path.
    static func write(in folder: String, rows: Int = 1000, name: String = "t-1-0001.csv.zst") throws -> String {
        let path = "\(folder)/t/2026/11/29/\(name)"
        let writer = try ArchiveFileWriter(
            store: LocalArchiveStore(root: folder), key: "t/2026/11/29/\(name)", level: 3, idColumn: 0, createdAtColumn: 1)
        var text = "id,created_at\n"
        for id in 1...rows { text += "\(id),2026-11-\(String(format: "%02d", id % 28 + 1)) 10:00:00.123456+00\n" }
        try Array(text.utf8).withUnsafeBytes { try writer.write($0) }
        let facts = try writer.finish()
        #expect(facts.header == ["id", "created_at"])
        let manifest = ArchiveManifest(
            pgsweepVersion: "test", source: source, key: ["id"], file: name, columns: columns, facts: facts,
            selection: "test", job: "archive", runID: 1, batch: 1, writtenAt: "2026-11-29 00:00:00+00")
        try writer.publish(manifest: manifest)
        return path
    }

    @Test("a written file verifies, is mode 0640, and the zstd CLI reads it with its header")
    func writeAndVerify() throws {
        let scratch = try ScratchFolder()
        let path = try Self.write(in: scratch.path)
        let verified = try ArchiveFileReader.verify(path)
        #expect(verified.rows == 1000)
        #expect(verified.manifest.minID == 1 && verified.manifest.maxID == 1000)
        #expect(verified.manifest.minCreatedAt == "2026-11-01 10:00:00.123456+00")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
        let head = try ProcessRunner.run("/bin/bash", ["-c", "zstdcat '\(path)' | head -2"])
        #expect(head.stdout == "id,created_at\n1,2026-11-02 10:00:00.123456+00\n")
        #expect(ArchivePaths.temporaryFiles(under: scratch.path).isEmpty)
    }

    @Test("an existing file, or a symbolic link, at the final name is never replaced or followed")
    func neverOverwrites() throws {
        let scratch = try ScratchFolder()
        let path = try Self.write(in: scratch.path)
        #expect(throws: ArchiveError.self) { _ = try Self.write(in: scratch.path) }
        // A link planted at the next file's name, pointing somewhere precious.
        let precious = scratch.file("precious")
        try "keep me".write(toFile: precious, atomically: true, encoding: .utf8)
        let folder = (path as NSString).deletingLastPathComponent
        #expect(symlink(precious, "\(folder)/t-1-0002.csv.zst") == 0)
        #expect(throws: ArchiveError.self) { _ = try Self.write(in: scratch.path, name: "t-1-0002.csv.zst") }
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me")
        #expect(ArchivePaths.temporaryFiles(under: scratch.path).isEmpty)
    }

    @Test("damage is found: truncation (inside a frame and at a frame boundary), a flipped byte, manifest lies, missing or empty parts")
    func damage() throws {
        let scratch = try ScratchFolder()
        func fresh(_ name: String) throws -> String { try Self.write(in: scratch.path, rows: 5000, name: name) }
        func expectDamaged(_ path: String, _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try ArchiveFileReader.verify(path)
                Issue.record("\(path) passed verification", sourceLocation: sourceLocation)
            } catch let error as ArchiveError {
                #expect(error.path == path, sourceLocation: sourceLocation)
                #expect(error.reason.contains(phrase), "\(error.reason)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
            }
        }
        func edit(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            change(&bytes)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        func editManifest(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
            let manifestPath = ArchiveManifest.path(for: path)
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath))) as! [String: Any]
            change(&object)
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: manifestPath))
        }
        func resign(_ path: String) throws {
            let sha = try ArchiveFileReader.sha256(of: path)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            try editManifest(path) { $0["sha256"] = sha; $0["bytes"] = size }
        }

        let cut = try fresh("cut.csv.zst")
        try edit(cut) { $0.removeLast($0.count / 2) }
        expectDamaged(cut, "bytes, its manifest says")
        try resign(cut)  // even with a manifest that agrees, the frame is incomplete
        expectDamaged(cut, "truncated")

        // Two frames, cut exactly after the first: zstd alone cannot tell; the row count can.
        let framed = try fresh("framed.csv.zst")
        let firstFrame = try Data(contentsOf: URL(fileURLWithPath: framed))
        let second = scratch.file("second.zst")
        let extra = try ProcessRunner.run("/bin/bash", ["-c", "printf '5001,2026-11-01 00:00:00+00\\n' | zstd -q --check -c > \(second)"])
        #expect(extra.status == 0)
        try (firstFrame + Data(contentsOf: URL(fileURLWithPath: second))).write(to: URL(fileURLWithPath: framed))
        try resign(framed)
        try editManifest(framed) { $0["rows"] = 5001 }
        #expect(try ArchiveFileReader.verify(framed).rows == 5001)
        try firstFrame.write(to: URL(fileURLWithPath: framed))
        try resign(framed)
        expectDamaged(framed, "holds 5000 rows, its manifest says 5001")

        let flipped = try fresh("flipped.csv.zst")
        try edit(flipped) { $0[$0.count / 2] ^= 0x01 }
        expectDamaged(flipped, "SHA-256")
        try resign(flipped)
        expectDamaged(flipped, "corrupt")

        let counted = try fresh("counted.csv.zst")
        try editManifest(counted) { $0["rows"] = 5001 }
        expectDamaged(counted, "holds 5000 rows, its manifest says 5001")

        let hashed = try fresh("hashed.csv.zst")
        try editManifest(hashed) { $0["sha256"] = String(repeating: "0", count: 64) }
        expectDamaged(hashed, "does not match the manifest's")

        let bare = try fresh("bare.csv.zst")
        try FileManager.default.removeItem(atPath: ArchiveManifest.path(for: bare))
        expectDamaged(bare, "manifest")

        let empty = try fresh("empty.csv.zst")
        try Data().write(to: URL(fileURLWithPath: empty))
        try resign(empty)
        expectDamaged(empty, "empty")

        let future = try fresh("future.csv.zst")
        try editManifest(future) { $0["format_version"] = 99 }
        do {
            _ = try ArchiveFileReader.verify(future)
            Issue.record("a newer format passed")
        } catch let error as ArchiveError {
            #expect(error.kind == .unsupportedVersion)
            #expect(error.reason.contains("upgrade pgsweep"))
        }
    }
}

@Suite("Archive paths")
struct ArchivePathTests {
    @Test("names become path components no other name maps to", arguments: [
        ("processing_queue", "processing_queue"), ("a.b", "a%2Eb"), ("a_b", "a_b"), ("my queue", "my%20queue"), ("%2E", "%252E"),
        ("émile", "%C3%A9mile"), ("..", "%2E%2E"), ("a/b", "a%2Fb"),
    ])
    func component(name: String, expected: String) {
        #expect(ArchivePaths.component(name) == expected)
    }

    @Test("a source's folder separates databases, clusters, schemas and tables")
    func folders() {
        let base = ArchiveSource(systemIdentifier: "1", database: "app", schema: "public", table: "q")
        var variants = [base]
        for change in [
            { (s: inout ArchiveSource) in s.systemIdentifier = "2" }, { $0.database = "app2" }, { $0.database = "app-1" },
            { $0.schema = "tenant" }, { $0.table = "q2" }, { $0.schema = "public.q" }, { $0.table = "q.public" },
        ] {
            var source = base
            change(&source)
            variants.append(source)
        }
        #expect(Set(variants.map(\.folder)).count == variants.count)
        #expect(base.folder == "app-1/public.q")
        let path = ArchivePaths.dataFile(root: "/a", source: base, date: Date(timeIntervalSince1970: 1_764_385_200), runID: 7, batch: 3)
        #expect(path == "/a/app-1/public.q/2025/11/29/q-20251129T030000Z-7-0003.csv.zst")
    }

    @Test("a format 2 manifest without its source or key is refused as incomplete")
    func incompleteManifest() throws {
        let scratch = try ScratchFolder()
        let path = try ArchiveFileTests.write(in: scratch.path)
        let url = URL(fileURLWithPath: ArchiveManifest.path(for: path))
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        #expect(object["format_version"] as? Int == 2)
        object["source"] = nil
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let error = try #require(throws: ArchiveError.self) { try ArchiveFileReader.verify(path) }
        #expect(error.reason.contains("needs source and key"))
    }
}

@Suite("Archive format 1")
struct ArchiveFormatOneTests {
    /// A file pgsweep 0.1.0 wrote (format 1), kept as it was: readers must go on reading it.
    static let golden = RepositoryPaths.file("Tests/ArchiveFormatTests/Golden/format-1/queue-20261201T121609Z-1-0004.csv.zst")

    @Test("a format 1 file still verifies and reads: its manifest names the table alone, no source, no key")
    func readsFormatOne() throws {
        let verified = try ArchiveFileReader.verify(Self.golden)
        #expect(verified.rows == 84)
        #expect(verified.manifest.formatVersion == 1)
        #expect(verified.manifest.table == "queue")
        #expect(verified.manifest.source == nil)
        #expect(verified.manifest.key == nil)
        #expect(verified.manifest.minID == 346 && verified.manifest.maxID == 1949)
        #expect(try ArchiveFileReader.sha256(of: Self.golden) == "\(verified.manifest.sha256)")
        var scanner = CSVRowScanner(captureNames: ["id", "status"])
        var statuses = Set<String>()
        try ArchiveFileReader.stream(Self.golden) { bytes in try scanner.consume(bytes) { statuses.insert($0[1] ?? "") } }
        #expect(scanner.header?.first == "id")
        #expect(scanner.rows == 84)
        #expect(statuses == ["failed"])
    }
}
