import Foundation
import LibPQ
import Testing
import TestSupport

/// What restore refuses before it inserts anything.
@Suite("Restore checks")
struct RestoreCheckTests {
    @Test("from the configured destination, a ledgered file missing from the store is named and nothing is restored (exit 4) unless --allow-missing")
    func missingFiles() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try ArchiveTests.prepare(database, scratch, rows: 3_000, job: ", batch_size: 300")
            let connection = try database.connect()
            #expect(try CLI.run(["--config", config, "run", "archive"]).status == 0)
            let files = try connection.query("SELECT file FROM pgsweep.archive_batches ORDER BY id").map { try $0.require(String.self, "file") }
            #expect(files.count >= 3)
            let lost = files[1]
            try FileManager.default.removeItem(atPath: scratch.file("archive") + "/" + lost)
            let before = try connection.query("SELECT count(*) FROM processing_queue")[0].require(Int64.self, at: 0)

            let refused = try CLI.run(["--config", config, "restore"])
            #expect(refused.status == 4, "\(refused.all)")
            #expect(refused.stderr.contains((lost as NSString).lastPathComponent), "\(refused.stderr)")
            #expect(refused.stderr.contains("1 ledgered file(s)"), "\(refused.stderr)")
            #expect(try connection.query("SELECT count(*) FROM processing_queue")[0].require(Int64.self, at: 0) == before)
            let dry = try CLI.run(["--config", config, "restore", "--dry-run"])
            #expect(dry.status == 4, "\(dry.all)")

            let partial = try CLI.run(["--config", config, "restore", "--allow-missing"])
            #expect(partial.status == 0, "\(partial.all)")
            let lostRows = try connection.query("SELECT row_count FROM pgsweep.archive_batches WHERE file = $1", [lost])[0].require(Int64.self, at: 0)
            let archived = try connection.query("SELECT sum(row_count)::int8 FROM pgsweep.archive_batches")[0].require(Int64.self, at: 0)
            #expect(try connection.query("SELECT count(*) FROM processing_queue")[0].require(Int64.self, at: 0) == before + archived - lostRows)
            // A path given outright is restored as asked, without the ledger check.
            let named = try CLI.run(["--config", config, "restore", "--dry-run", scratch.file("archive")])
            #expect(named.status == 0, "\(named.all)")
        }
    }

    @Test("--from later than --to is refused with exit 2 before anything is read")
    func fromAfterTo() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try ArchiveTests.prepare(database, scratch, rows: 0)
            let output = try CLI.run(["--config", config, "restore", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"])
            #expect(output.status == 2, "\(output.all)")
            #expect(output.stderr.contains("--from 2026-02-01T00:00:00Z is later than --to 2026-01-01T00:00:00Z"), "\(output.stderr)")
        }
    }
}
