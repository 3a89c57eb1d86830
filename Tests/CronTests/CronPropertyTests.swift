import Foundation
import Testing

@testable import Cron

/// Random expressions and instants across a year, in zones with and without daylight
/// saving (Lord Howe shifts by 30 minutes): `next(t)` is after `t`, fires, and no minute
/// between them fires, checked against an independent reading of the rules.
@Suite("Cron properties")
struct CronPropertyTests {
    static let zones = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
        .map { TimeZone(identifier: $0)! }
    static let minuteChoices = ["*", "*/5", "*/15", "0", "0,30", "10-20", "7/13", "59"]
    static let hourChoices = ["*", "*/2", "3", "1-5", "0,12", "2", "23"]
    static let dayChoices = ["*", "1", "15", "*/10", "1-7", "31", "29"]
    static let monthChoices = ["*", "*/3", "jan,jul", "2-11", "3", "10-11"]
    static let weekdayChoices = ["*", "mon-fri", "0", "sat,sun", "3"]

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    /// Does a fire happen at instant `t` (a whole minute)? Read straight from the rules.
    static func fires(_ fields: [String], at t: Int64, in zone: TimeZone) throws -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let date = Date(timeIntervalSince1970: Double(t))
        let c = calendar.dateComponents([.month, .day, .hour, .minute, .weekday], from: date)
        let minute = try CronField(parsing: fields[0], kind: .minute)
        let hour = try CronField(parsing: fields[1], kind: .hour)
        let dom = try CronField(parsing: fields[2], kind: .dayOfMonth)
        let month = try CronField(parsing: fields[3], kind: .month)
        let dow = try CronField(parsing: fields[4], kind: .dayOfWeek)
        guard minute.contains(c.minute!), hour.contains(c.hour!), month.contains(c.month!) else { return false }
        let domOK = dom.contains(c.day!)
        let dowOK = dow.contains(c.weekday! - 1)
        guard fields[2].hasPrefix("*") || fields[4].hasPrefix("*") ? domOK && dowOK : domOK || dowOK else { return false }
        // The same wall time earlier (a repeated hour): only an hour-`*` schedule fires again.
        let offset = zone.secondsFromGMT(for: date)
        let earlier = (1...4).map { t - Int64($0) * 1800 }.contains { candidate in
            candidate + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(candidate)))) == t + Int64(offset)
        }
        return !earlier || fields[1] == "*"
    }

    @Test("next(t) > t, next(t) fires, and nothing fires in between")
    func nextIsTheFirstFireAfter() throws {
        var generator = Generator(state: 0x5DEE_CE66_D1CE_4E5B)
        let yearStart: Int64 = 1_767_225_600  // 2026-01-01T00:00:00Z
        var bruteForced = 0
        for _ in 0..<500 {
            let fields = [
                Self.minuteChoices.randomElement(using: &generator)!, Self.hourChoices.randomElement(using: &generator)!,
                Self.dayChoices.randomElement(using: &generator)!, Self.monthChoices.randomElement(using: &generator)!,
                Self.weekdayChoices.randomElement(using: &generator)!,
            ]
            guard let schedule = try? CronSchedule(parsing: fields.joined(separator: " ")) else { continue }
            let zone = Self.zones.randomElement(using: &generator)!
            let t = yearStart + Int64.random(in: 0..<(365 * 86_400), using: &generator)
            let next = try #require(schedule.next(after: Date(timeIntervalSince1970: Double(t)), in: zone))
            let n = Int64(next.timeIntervalSince1970)
            let label = "\(fields.joined(separator: " ")) in \(zone.identifier) after \(t)"
            #expect(n > t, "\(label)")
            #expect(n % 60 == 0, "\(label)")
            #expect(try Self.fires(fields, at: n, in: zone), "\(label): next \(n) does not fire")
            #expect(schedule.previous(atOrBefore: next, in: zone) == next, "\(label)")
            if n - t <= 3 * 86_400 {
                bruteForced += 1
                var minute = (t / 60 + 1) * 60
                while minute < n {
                    #expect(try !Self.fires(fields, at: minute, in: zone), "\(label): \(minute) fires before next \(n)")
                    minute += 60
                }
            }
        }
        #expect(bruteForced >= 100)
    }

    @Test("around every 2026 daylight-saving change, fire times match the rules minute by minute")
    func aroundTransitions() throws {
        for zone in Self.zones {
            var cursor = Date(timeIntervalSince1970: 1_767_225_600)
            while let transition = zone.nextDaylightSavingTimeTransition(after: cursor),
                transition.timeIntervalSince1970 < 1_798_761_600
            {
                for expression in ["*/15 * * * *", "30 * * * *", "0,30 1-3 * * *", "45 2 * * *"] {
                    let fields = expression.split(separator: " ").map(String.init)
                    let schedule = try CronSchedule(parsing: expression)
                    let start = Int64(transition.timeIntervalSince1970) - 4 * 3600
                    var expected: [Int64] = []
                    var minute = start + 60
                    while minute <= start + 8 * 3600 {
                        if try Self.fires(fields, at: minute, in: zone) { expected.append(minute) }
                        minute += 60
                    }
                    let actual = schedule.fireTimes(after: Date(timeIntervalSince1970: Double(start)), count: expected.count, in: zone)
                        .map { Int64($0.timeIntervalSince1970) }
                    #expect(actual == expected, "\(expression) in \(zone.identifier) near \(transition)")
                }
                cursor = transition
            }
        }
    }
}
