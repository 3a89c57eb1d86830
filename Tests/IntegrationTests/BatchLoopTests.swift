import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

@Suite("The shared batch loop")
struct BatchLoopTests {
    static func context(_ connection: Connection, batchSize: Int, maxRuntime: ConfigDuration = .seconds(600),
                        pause: ConfigDuration = .init(milliseconds: 0), statementTimeout: ConfigDuration = .seconds(30),
                        shutdown: Shutdown = Shutdown(), clock: (any Clock)? = nil) -> JobContext {
        var limits = JobLimits()
        limits.batchSize = batchSize
        limits.maxRuntime = maxRuntime
        limits.pause = pause
        var context = JobContext(
            connection: connection, logger: TestLogging.silent, table: QualifiedName(schema: nil, name: "t"), limits: limits,
            statementTimeout: statementTimeout, lockTimeout: .seconds(5), dryRun: false, shutdown: shutdown, startedAt: Date())
        if let clock { context.clock = clock }
        return context
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
            let clock = TestClock(Date(timeIntervalSince1970: 0))
            let outcome = try BatchLoop.run(Self.context(connection, batchSize: 10, maxRuntime: .seconds(60), clock: clock)) {
                connection, size in
                clock.advance(by: 25)  // each batch takes 25 s of the clock's time
                return try Self.markBatch(connection, size)
            }
            #expect(outcome.stop == .maxRuntime)
            #expect(outcome.batches == 3, "batches start at 0, 25 and 50 s; none at 75 s")
        }
    }

    @Test("pauses between batches, with jitter, through the clock")
    func pausesBetweenBatches() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            try connection.execute("CREATE TABLE t AS SELECT g AS id, false AS done FROM generate_series(1, 35) g")
            let clock = TestClock(Date(timeIntervalSince1970: 0))
            let outcome = try BatchLoop.run(
                Self.context(connection, batchSize: 10, maxRuntime: .seconds(36_000), pause: .seconds(3600), clock: clock), Self.markBatch)
            #expect(outcome.batches == 4)
            let gaps = zip([Date(timeIntervalSince1970: 0)] + clock.waits, clock.waits).map { $1.timeIntervalSince($0) }
            #expect(gaps.count == 3, "a pause after each full batch, none after the last")
            #expect(gaps.allSatisfy { (2880...4320).contains($0) }, "an hour ±20%: \(gaps)")
        }
    }
}
