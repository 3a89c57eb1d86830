import ArchiveFormat
import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

/// `archive verify --repair`, driven directly: it removes leftovers only, and never while an
/// archive of the table runs, whatever configuration runs it.
@Suite("Archive repair")
struct ArchiveRepairTests {
    static func setUp(_ database: TestDatabase, _ scratch: ScratchFolder) throws -> (config: PGSweepConfig, path: String) {
        let path = try database.writeConfig(
            "archive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB\njobs:\n  nightly: { type: archive, schedule: \"@daily\", batch_size: 300 }",
            in: scratch.path)
        let config = try ConfigLoader.load(path: path, environment: [:])
        _ = try SchemaManager(config: config, logger: TestLogging.silent).apply(on: try database.connect())
        try QueueFixture.load(try database.connect(), count: 3_000)
        return (config, path)
    }

    @Test("repair removes a leftover of a killed run and nothing else")
    func removesLeftovers() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let (config, path) = try Self.setUp(database, scratch)
            let killed = try CLI.run(["--config", path, "run", "nightly"], environment: ["PGSWEEP_CRASH_AT": "archive-after-rename:2"])
            #expect(killed.status == 128 + SIGKILL)
            let repair = ArchiveRepair(config: config, logger: TestLogging.silent)
            let before = try repair.run(repair: false, on: try database.connect())
            #expect(before.inventory.items.map(\.state) == [.ok, .leftover])
            #expect(before.removed.isEmpty)
            let after = try repair.run(repair: true, on: try database.connect())
            #expect(after.removed == before.inventory.items.filter { $0.state == .leftover }.map(\.file))
            let again = try repair.run(repair: false, on: try database.connect())
            #expect(again.inventory.items.map(\.state) == [.ok])
        }
    }

    @Test("repair refuses while any archive of the table runs, and an archive refuses while a repair runs")
    func excludesArchives() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let (config, path) = try Self.setUp(database, scratch)
            let table = try QueueTable.resolve(config.table, on: try database.connect()).name
            let lock = ArchiveLock(schema: config.schema, table: table)

            // An archive run of another configuration, with another job name, holds the table shared.
            let archiving = try database.connect()
            #expect(try lock.tryShared(on: archiving))
            let error = try #require(throws: PGSweepError.self) {
                try ArchiveRepair(config: config, logger: TestLogging.silent).run(repair: true, on: try database.connect())
            }
            #expect("\(error)".contains("an archive of public.processing_queue is running"))
            lock.releaseShared(on: archiving)

            // A repair holds it exclusively: the archive job moves no row.
            let repairing = try database.connect()
            #expect(try lock.tryExclusive(on: repairing))
            let count = { try database.connect().query("SELECT count(*) AS n FROM processing_queue")[0].require(Int64.self, "n") }
            let rows = try count()
            let run = try CLI.run(["--config", path, "run", "nightly"])
            #expect(run.status == 1, "\(run.all)")
            #expect(run.stderr.contains("`archive verify --repair` is running for public.processing_queue"), "\(run.stderr)")
            #expect(try count() == rows)
            lock.releaseExclusive(on: repairing)
            #expect(try CLI.run(["--config", path, "run", "nightly"]).status == 0)
            #expect(try count() < rows)
        }
    }
}
