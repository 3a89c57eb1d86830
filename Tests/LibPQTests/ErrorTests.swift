import LibPQ
import Testing
import TestSupport

@Suite("Errors and notices")
struct ErrorTests {
    @Test("a server error carries SQLSTATE, message, detail and hint")
    func serverErrorFields() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t (id int PRIMARY KEY)")
            try connection.execute("INSERT INTO t VALUES (1)")
            let error = try #require(throws: PostgresError.self) {
                try connection.execute("INSERT INTO t VALUES ($1)", [1])
            }
            #expect(error.sqlState == .uniqueViolation)
            #expect(error.kind == .server)
            #expect(error.detail?.contains("already exists") == true)
            let hinted = try #require(throws: PostgresError.self) {
                try connection.execute("SELECT * FROM t WHERE id = 'x'::int")
            }
            #expect(hinted.sqlState == SQLState(rawValue: "22P02"))
            let withHint = try #require(throws: PostgresError.self) {
                try connection.execute("DO $$ BEGIN RAISE EXCEPTION 'boom' USING HINT = 'try again', ERRCODE = '55P03'; END $$")
            }
            #expect(withHint.sqlState == .lockNotAvailable)
            #expect(withHint.hint == "try again")
            #expect(withHint.description.contains("try again"))
            // The connection stays usable after errors.
            #expect(try connection.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
        }
    }

    @Test("server notices go to the logger, not to stderr")
    func noticesReachLogger() async throws {
        try await TestDatabase.with { database in
            let store = LogStore()
            let connection = try database.connect(logger: TestLogging.collecting(into: store))
            try connection.execute("DO $$ BEGIN RAISE WARNING 'disk nearly full' USING DETAIL = 'sda1'; END $$")
            let event = try #require(store.all.first { $0.message.contains("disk nearly full") })
            #expect(event.level == .warning)
            #expect(event.metadata["pg.detail"] == "sda1")
        }
    }

    @Test("a name from configuration is always quoted, never executed")
    func hostileNamesAreQuoted() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE y (id int)")
            try connection.execute(#"CREATE SCHEMA "weird""#)
            try connection.execute(#"CREATE TABLE "weird"."name" (id int)"#)
            try connection.execute(#"INSERT INTO "weird"."name" VALUES (7)"#)

            // Unquoted, such text is refused as a name; quoted, it is one name that is never executed.
            #expect(throws: PostgresError.self) { try QualifiedName(parsing: "x; DROP TABLE y") }
            let hostile = try QualifiedName(parsing: #""x; DROP TABLE y""#)
            #expect(hostile.quoted == #""x; DROP TABLE y""#)
            let error = try #require(throws: PostgresError.self) {
                try connection.execute("SELECT count(*) FROM \(hostile.quoted)")
            }
            #expect(error.sqlState == .undefinedTable)
            #expect(try connection.query("SELECT to_regclass('y') IS NOT NULL")[0].decode(Bool.self, at: 0) == true)

            let weird = try QualifiedName(parsing: #""weird"."name""#)
            #expect(weird.quoted == #""weird"."name""#)
            #expect(try connection.query("SELECT id FROM \(weird.quoted)")[0].decode(Int.self, at: 0) == 7)
        }
    }
}
