import Foundation
import LibPQ
import Testing
import TestSupport

/// `analyze` with `vacuum: true`: after maintenance removed a large share of the table, the
/// vacuum sets the visibility map (index-only counts fast again) and never truncates the
/// table's end (no ACCESS EXCLUSIVE lock).
@Suite("Vacuum where it pays")
struct VacuumTests {
    static func table(_ connection: Connection) throws -> (vacuums: Int64, dead: Int64, pages: Int64, allVisible: Int64) {
        let row = try connection.query(
            """
            SELECT s.vacuum_count, s.n_dead_tup, c.relpages::int8, c.relallvisible::int8
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'processing_queue'
            """)[0]
        return (try row.decode(Int64.self, at: 0)!, try row.decode(Int64.self, at: 1)!, try row.decode(Int64.self, at: 2)!,
                try row.decode(Int64.self, at: 3)!)
    }

    @Test("vacuum: true vacuums and analyzes when the modified share is reached, leaving the table's length alone; without it, only ANALYZE")
    func vacuumsWithoutTruncating() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try RunnerTests.prepare(
                database, scratch,
                jobs: """
                      plain: { type: analyze, schedule: "30 3 * * *", min_modified_ratio: 0.2 }
                      vacuum: { type: analyze, schedule: "30 3 * * *", min_modified_ratio: 0.2, vacuum: true }
                    """)
            let connection = try database.connect()
            // Autovacuum would race the job for the same work.
            try connection.execute("ALTER TABLE processing_queue SET (autovacuum_enabled = false)")
            try QueueFixture.load(connection, count: 20_000)
            try connection.execute("VACUUM processing_queue")
            let before = try Self.table(connection)
            // The table's last half, as maintenance removing old rows would leave it.
            try connection.execute("DELETE FROM processing_queue WHERE id > 10000")
            try connection.execute("SELECT pg_stat_force_next_flush()")
            #expect(try eventually { try Self.table(connection).dead >= 10_000 })

            #expect(try CLI.run(["--config", config, "run", "plain"]).status == 0)
            #expect(try Self.table(connection).vacuums == before.vacuums)

            try connection.execute("DELETE FROM processing_queue WHERE id > 5000")
            try connection.execute("SELECT pg_stat_force_next_flush()")
            let run = try CLI.run(["--config", config, "run", "vacuum"])
            #expect(run.status == 0, "\(run.all)")
            #expect(try eventually { try Self.table(connection).vacuums == before.vacuums + 1 })
            let after = try Self.table(connection)
            #expect(after.dead == 0)
            #expect(after.pages == before.pages, "the empty end of the table was truncated")
            #expect(after.allVisible > 0)
        }
    }
}
