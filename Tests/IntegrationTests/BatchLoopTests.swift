import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

@Suite("The shared batch loop")
struct BatchLoopTests {
    static func context(_ connection: Connection, batchSize: Int, maxRuntime: ConfigDuration = .seconds(600),
                        statementTimeout: ConfigDuration = .seconds(30), shutdown: Shutdown = Shutdown()) -> JobContext {
        var limits = JobLimits()
        limits.batchSize = batchSize
        limits.maxRuntime = maxRuntime
        return JobContext(
            connection: connection, logger: TestLogging.silent, table: QualifiedName(schema: nil, name: "t"), limits: limits,
            statementTimeout: statementTimeout, lockTimeout: .seconds(5), dryRun: false, shutdown: shutdown, startedAt: Date())
    }

    static func markBatch(_ connection: Connection, _ size: Int) throws -> RunCounts {
        RunCounts(rows: ["marked": try connection.execute(
            "UPDATE t SET done = true WHERE id IN (SELECT id FROM t WHERE NOT done ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)",
            [size]
        ).affectedRows])
    }

    @Test("works in batches until a batch comes back short")
    func drainsInBatches() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t AS SELECT g AS id, false AS done FROM generate_series(1, 1050) g")
            let outcome = try BatchLoop.run(Self.context(connection, batchSize: 100), Self.markBatch)
            #expect(outcome.batches == 11)
            #expect(outcome.rows == 1050)
            #expect(outcome.stop == .exhausted)
        }
    }

    @Test("a shutdown request stops the loop at a batch boundary: every batch is all or nothing")
    func stopsAtBatchBoundary() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t AS SELECT g AS id, false AS done FROM generate_series(1, 1000) g")
            let shutdown = Shutdown()
            var calls = 0
            let outcome = try BatchLoop.run(Self.context(connection, batchSize: 100, shutdown: shutdown)) { connection, size in
                calls += 1
                if calls == 3 { shutdown.request(signal: SIGTERM) }  // arrives while batch 3 runs
                return try Self.markBatch(connection, size)
            }
            #expect(outcome.stop == .shutdown)
            #expect(outcome.batches == 3)
            let done = try connection.query("SELECT count(*) FILTER (WHERE done) FROM t")[0].decode(Int.self, at: 0)
            #expect(done == 300)
        }
    }

    @Test("a batch that hits the statement timeout is rolled back and retried at half the size")
    func halvesOnTimeout() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t AS SELECT g AS id, false AS done FROM generate_series(1, 500) g")
            var sizes: [Int] = []
            let outcome = try BatchLoop.run(Self.context(connection, batchSize: 400, statementTimeout: .init(milliseconds: 200))) {
                connection, size in
                sizes.append(size)
                let marked = try Self.markBatch(connection, size)
                if size > 100 { try connection.execute("SELECT pg_sleep(5)") }  // too slow: times out
                return marked
            }
            #expect(Array(sizes.prefix(3)) == [400, 200, 100])
            #expect(outcome.rows == 500)
            let done = try connection.query("SELECT count(*) FILTER (WHERE done) FROM t")[0].decode(Int.self, at: 0)
            #expect(done == 500)
        }
    }

    @Test("no new batch starts after max_runtime")
    func stopsAtMaxRuntime() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t AS SELECT g AS id, false AS done FROM generate_series(1, 1000) g")
            let outcome = try BatchLoop.run(Self.context(connection, batchSize: 10, maxRuntime: .init(milliseconds: 1))) {
                connection, size in
                try connection.execute("SELECT pg_sleep(0.01)")
                return try Self.markBatch(connection, size)
            }
            #expect(outcome.stop == .maxRuntime)
            #expect(outcome.batches == 1)
        }
    }
}
