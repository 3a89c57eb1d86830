import Foundation
import LibPQ
import Testing
import TestSupport

@Suite("doctor")
struct DoctorTests {
    @Test("doctor passes on a prepared database and reports version, indexes, pgstattuple and archive folder")
    func healthyDatabase() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try database.writeConfig("archive:\n  directory: archive", in: scratch.path)
            #expect(try CLI.run(["--config", config, "schema", "apply"]).status == 0)
            try database.connect().execute("CREATE EXTENSION pgstattuple")
            let output = try CLI.run(["--config", config, "doctor"])
            #expect(output.status == 0, "\(output.all)")
            let lines = output.stdout.split(separator: "\n").map(String.init)
            let major = try database.connect().query("SHOW server_version")[0].require(String.self, at: 0).prefix { $0.isNumber }
            #expect(lines.contains { $0.hasPrefix("ok") && $0.contains("server version") && $0.contains(" \(major).") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("ok") && $0.contains("all 8 V007 indexes valid") })
            #expect(lines.contains { $0.hasPrefix("ok") && $0.contains("pgstattuple") && $0.contains("installed") })
            #expect(lines.contains { $0.contains("\(scratch.path)/archive will be created") })
        }
    }

    @Test("doctor exits 1 naming what is wrong: no pgsweep schema, missing indexes, unwritable archive folder")
    func problemsAreNamed() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let blocked = "\(scratch.path)/not-a-folder"
            _ = FileManager.default.createFile(atPath: blocked, contents: Data("x".utf8))
            let config = try database.writeConfig("archive:\n  directory: \(blocked)", in: scratch.path)
            let output = try CLI.run(["--config", config, "doctor"])
            #expect(output.status == 1, "\(output.all)")
            let lines = output.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("problem") && $0.contains("pgsweep schema") && $0.contains("not applied") })
            #expect(lines.contains { $0.hasPrefix("problem") && $0.contains("idx_processing_queue_pending missing") })
            #expect(lines.contains { $0.hasPrefix("problem") && $0.contains("not a directory") })
            #expect(lines.contains { $0.hasPrefix("warning") && $0.contains("pgstattuple") })
        }
    }
}
