import Foundation
import LibPQ
import Testing
import TestSupport

@Suite("Bound parameters and typed reads")
struct ParameterTests {
    @Test("text with quotes, control characters and 4-byte UTF-8 round-trips unchanged")
    func textRoundTrips() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            let controlCharacters = String(decoding: (1...31).map { UInt8($0) } + [127], as: UTF8.self)
            let samples = [
                "it's a \"quote\"; DROP TABLE x; --",
                "back\\slash \\x00 $1 $$dollar$$",
                controlCharacters,
                "héllo wörld ✓ 𝄞 😀 🇩🇪",
                "",
                String(repeating: "long-", count: 20_000),
            ]
            try connection.execute("CREATE TABLE t (id int, v text)")
            for (index, sample) in samples.enumerated() {
                let echoed = try connection.query("SELECT $1::text", [sample])[0].decode(String.self, at: 0)
                #expect(echoed == sample)
                try connection.execute("INSERT INTO t VALUES ($1, $2)", [index, sample])
            }
            let rows = try connection.query("SELECT v FROM t ORDER BY id")
            #expect(try rows.map { try $0.decode(String.self, at: 0) } == samples)
        }
    }

    @Test("NULL parameters and NULL columns read as nil")
    func nullsRoundTrip() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            let row = try connection.query("SELECT $1::text, $2::int IS NULL", [nil, nil])[0]
            #expect(try row.decode(String.self, at: 0) == nil)
            #expect(try row.decode(Bool.self, at: 1) == true)
        }
    }

    @Test("integers, booleans, doubles, timestamps and JSON read as their Swift types")
    func typedReads() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            // The server's own zone is not UTC; the session is put in UTC regardless.
            try connection.execute("SET TimeZone = 'America/New_York'")
            let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
            let row = try connection.query(
                """
                SELECT $1::int, $2::bigint, $3::bool, $4::float8, $5::timestamptz,
                       '{"a": [1, {"b": "c"}]}'::jsonb, 'NaN'::float8
                """, [Int(-42), Int64.max, true, 0.1, date])[0]
            #expect(try row.decode(Int.self, at: 0) == -42)
            #expect(try row.decode(Int64.self, at: 1) == Int64.max)
            #expect(try row.decode(Bool.self, at: 2) == true)
            #expect(try row.decode(Double.self, at: 3) == 0.1)
            let readBack = try #require(try row.decode(Date.self, at: 4))
            #expect(abs(readBack.timeIntervalSince(date)) < 0.000_001)
            #expect(try row.decode(String.self, at: 5) == #"{"a": [1, {"b": "c"}]}"#)
            #expect(try row.decode(Double.self, at: 6)?.isNaN == true)
        }
    }

    @Test("a value of the wrong type is a decoding error naming the column")
    func decodingErrorNamesColumn() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            let row = try connection.query("SELECT 'abc'::text AS label")[0]
            let error = try #require(throws: PostgresError.self) { try row.decode(Int.self, "label") }
            #expect(error.kind == .decoding)
            #expect(error.message.contains("label"))
            #expect(!error.message.contains("abc"))
        }
    }

    @Test("array parameters reach ANY() with quotes and commas intact")
    func arrayParameters() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            let flows = ["video,transcode", "say \"hi\"", "back\\slash", "plain"]
            let rows = try connection.query("SELECT unnest($1::text[])", [flows])
            #expect(try rows.map { try $0.decode(String.self, at: 0) } == flows)
        }
    }
}
