import Foundation
import LibPQ
import Testing
import TestSupport

@testable import PGSweep

/// The daemon's scheduler, driven directly with a test clock: no process, no real sleeping.
@Suite("Scheduler")
struct SchedulerTests {
    static let start = Date(timeIntervalSince1970: 1_767_225_900)  // 2026-01-01T00:05:00Z

    static func config(_ database: TestDatabase, _ jobs: String) throws -> PGSweepConfig {
        try ConfigLoader.parse("database:\n  url: \"\(database.conninfo)\"\njobs:\n\(jobs)", file: "/tmp/jobs.yaml", environment: [:])
    }

    /// A scheduler on `clock` that stops after `waits` waits; `connect` may fail on purpose.
    static func scheduler(
        _ config: PGSweepConfig, clock: TestClock, waits: Int, shutdown: Shutdown = Shutdown(),
        connect: ((PGSweepConfig) throws -> Connection)? = nil, reload: @escaping () throws -> PGSweepConfig = { throw PGSweepError.usage("no reload") }
    ) -> Scheduler {
        clock.onWait { count, _ in if count >= waits { shutdown.request(signal: SIGTERM) } }
        return Scheduler(
            config: config, logger: TestLogging.silent, shutdown: shutdown, clock: clock,
            connect: connect ?? { try $0.connect(logger: TestLogging.silent) }, reload: reload)
    }

    /// Runs of `job`: fire time and status, oldest first.
    static func runs(_ database: TestDatabase, job: String) throws -> [(fire: Date?, status: String)] {
        try database.connect().query("SELECT scheduled_for, status FROM pgsweep.job_runs WHERE job = $1 ORDER BY id", [job]).map {
            (try $0.decode(Date.self, "scheduled_for"), try $0.require(String.self, "status"))
        }
    }

    static func at(_ minutes: Int) -> Date { Date(timeIntervalSince1970: 1_767_225_600 + Double(minutes) * 60) }

    @Test("sleeps until each next fire time and runs each fire once")
    func fireTimes() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let config = try Self.config(database, """
                  often: { type: analyze, schedule: "@every 10m", force: true }
                  hourly: { type: analyze, schedule: "0 * * * *", force: true }
                """)
            _ = try SchemaManager(config: config, logger: TestLogging.silent).apply(on: try database.connect())
            let clock = TestClock(Self.start)
            try Self.scheduler(config, clock: clock, waits: 7).run()
            #expect(clock.waits == [10, 20, 30, 40, 50, 60, 70].map(Self.at))
            #expect(try Self.runs(database, job: "often").map(\.fire) == [0, 10, 20, 30, 40, 50, 60].map(Self.at))
            #expect(try Self.runs(database, job: "hourly").map(\.fire) == [0, 60].map(Self.at))
            #expect(try Self.runs(database, job: "often").allSatisfy { $0.status == "succeeded" })
        }
    }

    @Test("a fire missed by more than starting_deadline is recorded as skipped, and the next one runs")
    func missedDeadline() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let config = try Self.config(database, "  hourly: { type: analyze, schedule: \"0 * * * *\", force: true, starting_deadline: 4m }")
            _ = try SchemaManager(config: config, logger: TestLogging.silent).apply(on: try database.connect())
            let clock = TestClock(Self.start)  // 5 minutes after the 00:00 fire
            try Self.scheduler(config, clock: clock, waits: 2).run()
            let runs = try Self.runs(database, job: "hourly")
            #expect(runs.map(\.fire) == [Self.at(0), Self.at(60)])
            #expect(runs.map(\.status) == ["skipped", "succeeded"])
        }
    }

    @Test("after an outage it retries with back-off, 10 s doubling, and resets once the database answers")
    func backoff() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let config = try Self.config(database, "  yearly: { type: analyze, schedule: \"@yearly\", force: true }")
            _ = try SchemaManager(config: config, logger: TestLogging.silent).apply(on: try database.connect())
            let clock = TestClock(Self.start)
            let attempts = Counter()
            let scheduler = Self.scheduler(config, clock: clock, waits: 5) { config in
                // The start-up check passes; the next four cycles find the database down.
                let attempt = attempts.increment()
                if (2...5).contains(attempt) {
                    throw PostgresError(kind: .connection, message: "could not connect to PostgreSQL: connection refused")
                }
                return try config.connect(logger: TestLogging.silent)
            }
            try scheduler.run()
            let gaps = zip([Self.start] + clock.waits, clock.waits).map { $1.timeIntervalSince($0) }
            #expect(Array(gaps.prefix(4)) == [10, 20, 40, 80])
            #expect(clock.waits.last == Date(timeIntervalSince1970: 1_798_761_600), "then on to the next fire, 2027-01-01")
            #expect(Scheduler.backoff(failures: 9) == 300)
            #expect(try Self.runs(database, job: "yearly").map(\.status) == ["succeeded"])
        }
    }

    @Test("a reload request reads the configuration again before the next cycle; one that fails to load keeps the old")
    func reload() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let first = try Self.config(database, "  old: { type: analyze, schedule: \"@every 10m\", force: true }")
            let second = try Self.config(database, "  new: { type: analyze, schedule: \"@every 10m\", force: true }")
            _ = try SchemaManager(config: first, logger: TestLogging.silent).apply(on: try database.connect())
            let clock = TestClock(Self.start)
            let shutdown = Shutdown()
            let loads = Counter()
            let scheduler = Self.scheduler(first, clock: clock, waits: 4, shutdown: shutdown, reload: {
                // The first reload fails (a broken file); the second works.
                if loads.increment() == 1 { throw PGSweepError.usage("broken") }
                return second
            })
            clock.onWait { count, _ in
                if count == 1 || count == 2 { shutdown.requestReload() }
                if count >= 4 { shutdown.request(signal: SIGTERM) }
            }
            try scheduler.run()
            #expect(try Self.runs(database, job: "old").map(\.fire) == [0, 10].map(Self.at))
            #expect(try Self.runs(database, job: "new").map(\.fire) == [20, 30].map(Self.at))
            #expect(scheduler.config.jobs.map(\.name) == ["new"])
        }
    }
}
