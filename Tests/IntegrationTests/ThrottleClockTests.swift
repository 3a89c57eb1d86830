import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

/// The throttle's waits, timed by the test clock: how long it pauses, when it stops at
/// `max_runtime`, and how it answers SIGTERM. Signals come from a real server.
@Suite("Throttle timing")
struct ThrottleClockTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func throttle(_ settings: ThrottleSettings, _ connection: Connection, clock: TestClock, shutdown: Shutdown = Shutdown()) -> Throttle {
        Throttle(settings: settings, connection: connection, clock: clock, shutdown: shutdown, logger: TestLogging.silent)
    }

    /// Settings with only the user's query on.
    func queryOnly(_ query: String, every interval: ConfigDuration = .init(milliseconds: 300)) -> ThrottleSettings {
        var settings = ThrottleSettings()
        settings.maxReplicaLag = nil
        settings.maxReplicaLagBytes = nil
        settings.minSlotSafeWalSize = nil
        settings.maxArchiveBacklog = nil
        settings.query = query
        settings.checkInterval = interval
        return settings
    }

    @Test("while the query says so the job waits, checking every check_interval; when it stops, the job goes on")
    func pausesWhileOver() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            // True for the first three reads: the first, and the checks after two waits. (A
            // temporary sequence: the query runs READ ONLY, where only those may advance.)
            try connection.execute("CREATE TEMPORARY SEQUENCE reads")
            let clock = TestClock(start)
            let throttle = throttle(queryOnly("SELECT nextval('reads') <= 3"), connection, clock: clock)
            #expect(try throttle.waitWhileOver(deadline: start.addingTimeInterval(60)) == .go)
            let expected = [0.3, 0.6, 0.9].map { start.addingTimeInterval($0) }
            #expect(clock.waits.count == 3 && zip(clock.waits, expected).allSatisfy { abs($0.timeIntervalSince($1)) < 1e-3 }, "\(clock.waits)")
            #expect(abs(throttle.seconds["query", default: 0] - 0.9) < 1e-3)
            #expect(try connection.query("SELECT last_value FROM reads")[0].decode(Int64.self, at: 0) == 4)
        }
    }

    @Test("max_runtime reached while paused ends the wait at the deadline, naming the signal")
    func stopsAtTheDeadline() async throws {
        try await TestDatabase.with { database in
            let clock = TestClock(start)
            let throttle = throttle(queryOnly("SELECT true"), try database.connect(), clock: clock)
            #expect(try throttle.waitWhileOver(deadline: start.addingTimeInterval(1)) == .deadline(signal: "query"))
            #expect(clock.waits.last == start.addingTimeInterval(1))
            #expect(abs(throttle.total - 1) < 1e-3)
        }
    }

    @Test("SIGTERM ends a pause at once")
    func shutdownEndsThePause() async throws {
        try await TestDatabase.with { database in
            let clock = TestClock(start)
            let shutdown = Shutdown()
            clock.onWait { _, _ in shutdown.request(signal: SIGTERM) }
            let throttle = throttle(queryOnly("SELECT true"), try database.connect(), clock: clock, shutdown: shutdown)
            #expect(try throttle.waitWhileOver(deadline: start.addingTimeInterval(60)) == .shutdown)
            #expect(clock.waits.count == 1)
        }
    }

    @Test("nice_ratio sleeps its multiple of the batch's duration, never past the deadline")
    func niceRatio() async throws {
        try await TestDatabase.with { database in
            var settings = queryOnly("SELECT false")
            settings.niceRatio = 2
            let clock = TestClock(start.addingTimeInterval(1.5))
            let throttle = throttle(settings, try database.connect(), clock: clock)
            try throttle.afterBatch(started: start, walBefore: nil, deadline: start.addingTimeInterval(60))
            #expect(clock.waits == [start.addingTimeInterval(4.5)])
            #expect(abs(throttle.seconds["nice_ratio", default: 0] - 3) < 1e-3)
            // A one-second batch ending at 4.5 s would sleep 2 s; the deadline at 5 s comes first.
            try throttle.afterBatch(started: start.addingTimeInterval(3.5), walBefore: nil, deadline: start.addingTimeInterval(5))
            #expect(clock.waits.last == start.addingTimeInterval(5))
        }
    }

    @Test("max_wal_rate: after a batch's WAL, the job sleeps until its average is back under the cap")
    func walRate() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            var settings = queryOnly("SELECT false")
            settings.maxWalRate = 1 << 20  // 1 MB/s
            let clock = TestClock(start)
            let throttle = throttle(settings, connection, clock: clock)
            let before = try #require(try throttle.walPosition())
            try connection.execute("CREATE TABLE filler AS SELECT repeat('x', 500) AS x FROM generate_series(1, 20000)")
            let written = try connection.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8", [before])[0]
                .decode(Double.self, at: 0) ?? 0
            #expect(written > Double(1 << 20))
            clock.advance(by: 0.5)
            try throttle.afterBatch(started: start, walBefore: before, deadline: start.addingTimeInterval(3600))
            // At 1 MB/s, `written` bytes take written / 1 MB seconds from the batch's start.
            let wait = try #require(clock.waits.last)
            #expect(wait >= start.addingTimeInterval(written / Double(1 << 20)))
            #expect(throttle.seconds["wal_rate", default: 0] > 0)
        }
    }
}
