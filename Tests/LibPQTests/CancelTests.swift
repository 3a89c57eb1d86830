import Dispatch
import Foundation
import LibPQ
import Testing
import TestSupport

@Suite("Cancelling a running statement")
struct CancelTests {
    @Test("a statement cancelled from another thread fails with query_canceled")
    func cancelFromAnotherThread() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            let handle = try #require(connection.cancelHandle())
            let backend = try connection.query("SELECT pg_backend_pid()")[0].decode(Int.self, at: 0)!

            // Cancel once the backend is seen running the sleep (a condition with a deadline).
            let canceller = Thread {
                guard let monitor = try? database.connect() else { return }
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline {
                    let state = try? monitor.query(
                        "SELECT state = 'active' AND query LIKE '%pg_sleep%' FROM pg_stat_activity WHERE pid = $1",
                        [backend]).first?.decode(Bool.self, at: 0)
                    if state == true { handle.cancel(); return }
                }
            }
            canceller.start()
            let started = Date()
            let error = try #require(throws: PostgresError.self) {
                try connection.execute("SELECT pg_sleep(60)")
            }
            #expect(error.sqlState == .queryCanceled)
            #expect(Date().timeIntervalSince(started) < 55)
            #expect(try connection.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
        }
    }
}
