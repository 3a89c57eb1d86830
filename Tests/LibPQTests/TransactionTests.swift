import LibPQ
import Testing
import TestSupport

@Suite("Transactions")
struct TransactionTests {
    struct Boom: Error {}

    @Test("a transaction commits when its body returns")
    func commits() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t (id int)")
            try connection.transaction { try $0.execute("INSERT INTO t VALUES (1)") }
            #expect(try connection.query("SELECT count(*) FROM t")[0].decode(Int.self, at: 0) == 1)
            #expect(connection.isIdle)
        }
    }

    @Test("a transaction rolls back when its body throws")
    func rollsBack() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t (id int)")
            #expect(throws: Boom.self) {
                try connection.transaction { connection in
                    try connection.execute("INSERT INTO t VALUES (1)")
                    throw Boom()
                }
            }
            #expect(try connection.query("SELECT count(*) FROM t")[0].decode(Int.self, at: 0) == 0)
            #expect(connection.isIdle)
        }
    }

    @Test("a COMMIT the server turns into a rollback is an error, not success")
    func abortedCommitIsAnError() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t (id int PRIMARY KEY)")
            #expect(throws: PostgresError.self) {
                try connection.transaction { connection in
                    try connection.execute("INSERT INTO t VALUES (1)")
                    _ = try? connection.execute("INSERT INTO t VALUES (1)")  // error swallowed
                }
            }
            #expect(try connection.query("SELECT count(*) FROM t")[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("a read-only transaction refuses writes")
    func readOnlyRefusesWrites() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t (id int)")
            let error = try #require(throws: PostgresError.self) {
                try connection.transaction(.readOnly) { try $0.execute("INSERT INTO t VALUES (1)") }
            }
            #expect(error.sqlState == .readOnlySQLTransaction)
        }
    }
}
