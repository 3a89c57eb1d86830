import Foundation
import LibPQ
import Testing
import TestSupport
import Zstd

@Suite("COPY OUT in bounded memory")
struct CopyMemoryTests {
    @Test("COPY OUT of a table over 200 MB into zstd keeps the process under 50 MB and loses nothing")
    func largeCopyOutStaysSmall() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            // ~330k rows of ~650 bytes each: over 200 MB of CSV.
            try connection.execute("SET statement_timeout = 0")
            try connection.execute(
                """
                CREATE UNLOGGED TABLE big AS
                SELECT g AS id, repeat(md5(g::text), 20) AS body FROM generate_series(1, 330000) g
                """)
            let scratch = try ScratchFolder()
            let output = "\(scratch.path)/big.csv.zst"
            let run = try ProcessRunner.run(
                RepositoryPaths.executable("pgsweep-bench"),
                ["copy-out", "--conninfo", database.conninfo, "--output", output,
                 "--sql", "COPY big TO STDOUT (FORMAT csv, HEADER)"])
            #expect(run.status == 0, "\(run.all)")
            let result = try #require(
                try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let rawBytes = try #require(result["raw_bytes"] as? Int)
            let peak = try #require(result["peak_rss_kib"] as? Int)
            #expect(result["rows"] as? Int == 330_000)
            #expect(rawBytes > 200 * 1024 * 1024)
            #expect(peak > 0 && peak < 50 * 1024, "peak RSS \(peak) KiB")

            // Every byte came through: the decompressed stream has the header plus every row.
            var newlines = 0
            var bytes = 0
            try ZstdDecompressor().decompress(path: output) { chunk in
                bytes += chunk.count
                newlines += chunk.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            }
            #expect(bytes == rawBytes)
            #expect(newlines == 330_001)
        }
    }
}
