import Foundation
import Testing

@testable import Cron

/// One test per syntax feature: each checks the fire times it produces.
@Suite("Cron syntax")
struct CronSyntaxTests {
    static let utc = TimeZone(identifier: "UTC")!

    /// `2026-MM-DD HH:MM` UTC as a Date.
    static func at(_ text: String, _ zone: TimeZone = utc) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.date(from: text)!
    }

    static func times(_ expression: String, after start: String, count: Int, zone: TimeZone = utc) throws -> [String] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm EEE zzz"
        return try CronSchedule(parsing: expression).fireTimes(after: at(start, zone), count: count, in: zone)
            .map { formatter.string(from: $0) }
    }

    @Test("a single value in each field")
    func singleValues() throws {
        #expect(try Self.times("30 4 15 6 *", after: "2026-01-01 00:00", count: 2) == [
            "2026-06-15 04:30 Mon GMT", "2027-06-15 04:30 Tue GMT",
        ])
    }

    @Test("lists")
    func lists() throws {
        #expect(try Self.times("0,20,40 9 * * *", after: "2026-01-01 09:15", count: 3) == [
            "2026-01-01 09:20 Thu GMT", "2026-01-01 09:40 Thu GMT", "2026-01-02 09:00 Fri GMT",
        ])
    }

    @Test("ranges")
    func ranges() throws {
        #expect(try Self.times("58-59 22-23 * * *", after: "2026-01-01 22:58", count: 3) == [
            "2026-01-01 22:59 Thu GMT", "2026-01-01 23:58 Thu GMT", "2026-01-01 23:59 Thu GMT",
        ])
    }

    @Test("steps over *, over a range, and from a start value")
    func steps() throws {
        #expect(try Self.times("*/20 * * * *", after: "2026-01-01 00:00", count: 3).map { String($0.dropFirst(11).prefix(5)) }
            == ["00:20", "00:40", "01:00"])
        #expect(try Self.times("10-30/10 0 * * *", after: "2026-01-01 00:00", count: 4).map { String($0.dropFirst(11).prefix(5)) }
            == ["00:10", "00:20", "00:30", "00:10"])
        #expect(try Self.times("5/15 0 * * *", after: "2026-01-01 00:00", count: 4).map { String($0.dropFirst(11).prefix(5)) }
            == ["00:05", "00:20", "00:35", "00:50"])
    }

    @Test("month and weekday names, in any case")
    func names() throws {
        #expect(try Self.times("0 9 * JAN-feb Mon-FRI", after: "2026-02-26 10:00", count: 2) == [
            "2026-02-27 09:00 Fri GMT", "2027-01-01 09:00 Fri GMT",
        ])
    }

    @Test("day of week 7 is Sunday, like 0")
    func sundaySeven() throws {
        #expect(try Self.times("0 0 * * 7", after: "2026-11-29 00:00", count: 1) == ["2026-12-06 00:00 Sun GMT"])
        #expect(try Self.times("0 0 * * 0", after: "2026-11-29 00:00", count: 1) == ["2026-12-06 00:00 Sun GMT"])
    }

    @Test("both day fields restricted: either may match (Vixie cron)")
    func eitherDayField() throws {
        // The 13th of each month, and every Friday.
        #expect(try Self.times("0 0 13 * fri", after: "2026-11-01 00:00", count: 4) == [
            "2026-11-06 00:00 Fri GMT", "2026-11-13 00:00 Fri GMT", "2026-11-20 00:00 Fri GMT", "2026-11-27 00:00 Fri GMT",
        ])
        #expect(try Self.times("0 0 13 * fri", after: "2026-12-01 00:00", count: 2) == [
            "2026-12-04 00:00 Fri GMT", "2026-12-11 00:00 Fri GMT",
        ])
        #expect(try Self.times("0 0 13 * fri", after: "2026-12-11 00:00", count: 2) == [
            "2026-12-13 00:00 Sun GMT", "2026-12-18 00:00 Fri GMT",
        ])
    }

    @Test("a day field starting with * makes both day fields required")
    func starDayField() throws {
        // Odd days of the month that are also Fridays.
        #expect(try Self.times("0 0 */2 * fri", after: "2026-11-01 00:00", count: 2) == [
            "2026-11-13 00:00 Fri GMT", "2026-11-27 00:00 Fri GMT",
        ])
    }

    @Test("the macros", arguments: [
        ("@hourly", "2026-11-29 07:00 Sun GMT"), ("@daily", "2026-11-30 00:00 Mon GMT"),
        ("@midnight", "2026-11-30 00:00 Mon GMT"), ("@weekly", "2026-12-06 00:00 Sun GMT"),
        ("@monthly", "2026-12-01 00:00 Tue GMT"), ("@yearly", "2027-01-01 00:00 Fri GMT"),
        ("@annually", "2027-01-01 00:00 Fri GMT"),
    ])
    func macros(macro: String, expected: String) throws {
        #expect(try Self.times(macro, after: "2026-11-29 06:12", count: 1) == [expected])
    }

    @Test("@every counts from the epoch, so every runner agrees")
    func every() throws {
        #expect(try Self.times("@every 10m", after: "2026-11-29 06:12", count: 2) == [
            "2026-11-29 06:20 Sun GMT", "2026-11-29 06:30 Sun GMT",
        ])
        #expect(try Self.times("@every 1h30m", after: "2026-11-29 06:12", count: 1) == ["2026-11-29 07:30 Sun GMT"])
    }

    @Test("previous(atOrBefore:) includes the instant itself")
    func previous() throws {
        let schedule = try CronSchedule(parsing: "*/15 * * * *")
        #expect(schedule.previous(atOrBefore: Self.at("2026-11-29 06:15"), in: Self.utc) == Self.at("2026-11-29 06:15"))
        #expect(schedule.previous(atOrBefore: Self.at("2026-11-29 06:14"), in: Self.utc) == Self.at("2026-11-29 06:00"))
        let yearly = try CronSchedule(parsing: "@yearly")
        #expect(yearly.previous(atOrBefore: Self.at("2026-11-29 06:14"), in: Self.utc) == Self.at("2026-01-01 00:00"))
    }

    @Test("out-of-range values are refused naming the field", arguments: [
        ("60 * * * *", "minute field \"60\": 60 is out of range 0-59"),
        ("* 24 * * *", "hour field \"24\": 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month field \"0\": 0 is out of range 1-31"),
        ("* * 32 * *", "day-of-month field \"32\": 32 is out of range 1-31"),
        ("* * * 13 *", "month field \"13\": 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week field \"8\": 8 is out of range 0-7"),
    ])
    func outOfRange(expression: String, message: String) {
        #expect(throws: CronError(message)) { try CronSchedule(parsing: expression) }
    }

    @Test("malformed expressions are refused", arguments: [
        "* * * *", "* * * * * *", "*/0 * * * *", "5-1 * * * *", "1,,2 * * * *", "@fortnightly", "x * * * *",
        "@every 10", "@every 30s", "0 0 30 feb *", "* * * foo *",
    ])
    func malformed(expression: String) {
        #expect(throws: CronError.self) { try CronSchedule(parsing: expression) }
    }
}
