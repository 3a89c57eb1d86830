import Foundation
import LibPQ
import Testing
import TestSupport

@Suite("COPY streams")
struct CopyTests {
    struct Stop: Error {}

    @Test("COPY OUT streams every row in bounded chunks")
    func copyOutStreams() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g")
            var bytes = 0
            var largestChunk = 0
            var newlines = 0
            let rows = try connection.copyOut("COPY t TO STDOUT (FORMAT csv, HEADER)", chunkSize: 64 * 1024) { chunk in
                bytes += chunk.count
                largestChunk = max(largestChunk, chunk.count)
                newlines += chunk.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            }
            #expect(rows == 50000)
            #expect(newlines == 50001)
            #expect(largestChunk <= 64 * 1024)
            #expect(bytes > 50000 * 34)
        }
    }

    @Test("COPY OUT hands over chunks of whole rows, the same bytes as the streamed form")
    func copyOutChunks() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute(
                "CREATE TABLE t AS SELECT g AS id, CASE WHEN g % 7 = 0 THEN E'two\\nlines, \"quoted\"' ELSE md5(g::text) END AS v "
                    + "FROM generate_series(1, 20000) g")
            let sql = "COPY t TO STDOUT (FORMAT csv, HEADER)"
            var streamed: [UInt8] = []
            try connection.copyOut(sql) { streamed.append(contentsOf: $0) }
            var kept: [[UInt8]] = []
            var counted = 0
            let rows = try connection.copyOutChunks(sql, chunkSize: 16 * 1024) { chunk, rows in
                kept.append(chunk)
                counted += rows
            }
            #expect(rows == 20000)
            #expect(counted == 20001)  // the header line is the first row
            #expect(kept.count > 20)
            #expect(kept.allSatisfy { $0.count <= 16 * 1024 && $0.last == 10 })
            // Each chunk kept its own bytes: none was reused for the next.
            #expect(Array(kept.joined()) == streamed)
            // Cut after every 1,000th row too (the header line is the first): the chunks' row
            // counts add up to multiples of 1,000 wherever a cut falls.
            var sums: [Int] = []
            try connection.copyOutChunks(sql, cutEvery: 1_000) { _, rows in sums.append((sums.last ?? 0) + rows) }
            #expect(Set(stride(from: 1_000, through: 20_000, by: 1_000)).isSubset(of: Set(sums)))
            #expect(sums.last == 20_001)
        }
    }

    @Test("a consumer error cancels COPY OUT and leaves the connection usable")
    func copyOutConsumerError() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            var calls = 0
            #expect(throws: Stop.self) {
                try connection.copyOut("COPY (SELECT g FROM generate_series(1, 5000000) g) TO STDOUT", chunkSize: 4096) { _ in
                    calls += 1
                    throw Stop()
                }
            }
            #expect(calls == 1)
            #expect(try connection.query("SELECT 42")[0].decode(Int.self, at: 0) == 42)
        }
    }

    @Test("COPY IN takes data in arbitrary pieces")
    func copyInStreams() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t (id int, v text)")
            let text = (1...1000).map { "\($0),\"row, \($0)\"\n" }.joined()
            let bytes = Array(text.utf8)
            let count = try connection.copyIn("COPY t FROM STDIN (FORMAT csv)") { writer in
                var offset = 0
                while offset < bytes.count {
                    let end = min(bytes.count, offset + 777)  // splits rows mid-way on purpose
                    try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
                    offset = end
                }
            }
            #expect(count == 1000)
            #expect(try connection.query("SELECT v FROM t WHERE id = 500")[0].decode(String.self, at: 0) == "row, 500")
        }
    }

    @Test("a producer error aborts COPY IN and inserts nothing")
    func copyInAbort() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t (id int)")
            #expect(throws: Stop.self) {
                try connection.copyIn("COPY t FROM STDIN") { writer in
                    try Array("1\n2\n".utf8).withUnsafeBytes { try writer.write($0) }
                    throw Stop()
                }
            }
            #expect(try connection.query("SELECT count(*) FROM t")[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("a bad COPY statement reports the server's error")
    func badCopyStatement() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            let error = try #require(throws: PostgresError.self) {
                try connection.copyOut("COPY missing_table TO STDOUT") { _ in }
            }
            #expect(error.sqlState == .undefinedTable)
        }
    }
}
