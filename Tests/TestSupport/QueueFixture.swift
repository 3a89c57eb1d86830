import Foundation
import LibPQ

/// Deterministic work-queue rows in every state, for tests (`ops/sql/fixture_rows.sql`,
/// shared with the benchmarks).
///
/// Of every 50 rows (by id): 25 completed (created up to 60 days ago), 10 pending, 1
/// processing and freshly claimed (a live worker), 5 orphans (claimed 2 to 30 hours ago,
/// retry_count 0 to 4), 5 failed with retries left (retry_count 0 to 2), 4 failed with
/// retries used up (retry_count 3 to 5). Flows cycle through five names.
public enum QueueFixture {

    /// Inserts `count` rows (a multiple of 50 keeps the shares exact) and ANALYZEs the table.
    public static func load(_ connection: Connection, count: Int) throws {
        let file = try String(contentsOfFile: RepositoryPaths.file("ops/sql/fixture_rows.sql"), encoding: .utf8)
        let sql = file.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .replacingOccurrences(of: ":rows", with: "$1").trimmingCharacters(in: .whitespacesAndNewlines.union(.init(charactersIn: ";")))
        try connection.execute("SET statement_timeout = 0")
        try connection.execute(sql, [count])
        try connection.execute("ANALYZE processing_queue")
        try connection.execute("RESET statement_timeout")
    }
}
