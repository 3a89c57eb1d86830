import Foundation
import Testing

@testable import Cron

@Suite("Cron across daylight-saving changes")
struct CronDaylightSavingTests {
    static let newYork = TimeZone(identifier: "America/New_York")!

    @Test("a local time that does not exist that day is skipped")
    func springForwardSkips() throws {
        // 2026-03-08: clocks go from 02:00 straight to 03:00 in New York.
        #expect(try CronSyntaxTests.times("30 2 * * *", after: "2026-03-07 03:00", count: 2, zone: Self.newYork) == [
            "2026-03-09 02:30 Mon EDT", "2026-03-10 02:30 Tue EDT",
        ])
    }

    @Test("a local time that occurs twice fires once")
    func fallBackFiresOnce() throws {
        // 2026-11-01: 01:00-01:59 happens twice in New York (EDT, then EST).
        #expect(try CronSyntaxTests.times("30 1 * * *", after: "2026-10-31 12:00", count: 2, zone: Self.newYork) == [
            "2026-11-01 01:30 Sun EDT", "2026-11-02 01:30 Mon EST",
        ])
    }

    @Test("a schedule with hour * keeps its pace through the repeated hour")
    func fallBackWildcardHour() throws {
        let times = try CronSyntaxTests.times("*/30 * * * *", after: "2026-11-01 00:45", count: 5, zone: Self.newYork)
        #expect(times == [
            "2026-11-01 01:00 Sun EDT", "2026-11-01 01:30 Sun EDT", "2026-11-01 01:00 Sun EST",
            "2026-11-01 01:30 Sun EST", "2026-11-01 02:00 Sun EST",
        ])
    }

    @Test("hourly jobs skip the missing hour and keep going")
    func springForwardHourly() throws {
        #expect(try CronSyntaxTests.times("15 * * * *", after: "2026-03-08 00:30", count: 3, zone: Self.newYork) == [
            "2026-03-08 01:15 Sun EST", "2026-03-08 03:15 Sun EDT", "2026-03-08 04:15 Sun EDT",
        ])
    }
}
