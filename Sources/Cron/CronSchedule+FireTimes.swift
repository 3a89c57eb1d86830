import Foundation

extension CronSchedule {
    /// The first fire time strictly after `date`, or nil if there is none within nine years.
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        let t = Int64((date.timeIntervalSince1970).rounded(.down))
        switch rule {
        case .every(let seconds):
            return Date(timeIntervalSince1970: Double((t.floorDivided(by: seconds) + 1) * seconds))
        case .fields:
            var day = Self.wallDay(of: t, in: zone)
            for _ in 0..<(366 * 9) {
                if let found = candidates(onWallDay: day, in: zone).first(where: { $0 > t }) {
                    return Date(timeIntervalSince1970: Double(found))
                }
                day += 1
            }
            return nil
        }
    }

    /// The latest fire time at or before `date`, or nil if there is none within nine years.
    public func previous(atOrBefore date: Date, in zone: TimeZone) -> Date? {
        let t = Int64((date.timeIntervalSince1970).rounded(.down))
        switch rule {
        case .every(let seconds):
            return Date(timeIntervalSince1970: Double(t.floorDivided(by: seconds) * seconds))
        case .fields:
            var day = Self.wallDay(of: t, in: zone) + 1
            for _ in 0..<(366 * 9) {
                if let found = candidates(onWallDay: day, in: zone).last(where: { $0 <= t }) {
                    return Date(timeIntervalSince1970: Double(found))
                }
                day -= 1
            }
            return nil
        }
    }

    /// The next `count` fire times after `date`.
    public func fireTimes(after date: Date, count: Int, in zone: TimeZone) -> [Date] {
        var times: [Date] = []
        var cursor = date
        while times.count < count, let next = next(after: cursor, in: zone) {
            times.append(next)
            cursor = next
        }
        return times
    }

    /// Fire instants (Unix seconds, ascending) on one local calendar day, the day given as
    /// days since 1970-01-01 in wall-clock time.
    func candidates(onWallDay day: Int64, in zone: TimeZone) -> [Int64] {
        guard case .fields(let minute, let hour, let dayOfMonth, let month, let dayOfWeek) = rule else { return [] }
        let civil = Self.civil(day)
        guard month.contains(civil.month) else { return [] }
        let domMatch = dayOfMonth.contains(civil.day)
        let dowMatch = dayOfWeek.contains(civil.weekday)
        let dayMatches = dayOfMonth.startsWithStar || dayOfWeek.startsWithStar ? domMatch && dowMatch : domMatch || dowMatch
        guard dayMatches else { return [] }

        let dayStart = day * 86_400
        let hours = hour.values
        let minutes = minute.values
        // Fast path: no offset change anywhere near this day, so wall time maps to one instant.
        let before = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(dayStart - 86_400)))
        let transition = zone.nextDaylightSavingTimeTransition(
            after: Date(timeIntervalSince1970: Double(dayStart - 2 * 86_400)))
        let quiet = transition.map { $0.timeIntervalSince1970 > Double(dayStart + 3 * 86_400) } ?? true
        var result: [Int64] = []
        result.reserveCapacity(hours.count * minutes.count)
        for h in hours {
            for m in minutes {
                let wall = dayStart + Int64(h * 3600 + m * 60)
                if quiet {
                    result.append(wall - Int64(before))
                    continue
                }
                let instants = Self.instants(ofWall: wall, in: zone)
                if let first = instants.first { result.append(first) }
                if instants.count > 1, hour.startsWithStar, hour.mask == (1 << 24) - 1 {
                    result.append(instants[1])
                }
            }
        }
        return quiet ? result : result.sorted()
    }

    /// The instants whose local wall-clock time in `zone` is `wall` (seconds since the epoch
    /// as if wall time were UTC): none in a gap, two in a repeated hour, one otherwise.
    static func instants(ofWall wall: Int64, in zone: TimeZone) -> [Int64] {
        var offsets = Set<Int>()
        for probe in [wall - 86_400, wall - 43_200, wall, wall + 43_200, wall + 86_400] {
            offsets.insert(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(probe))))
        }
        let valid = offsets.map { wall - Int64($0) }.filter { instant in
            zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))) == Int(wall - instant)
        }
        return Array(Set(valid)).sorted()
    }

    /// The wall-clock day (days since 1970-01-01) that contains instant `t` in `zone`.
    static func wallDay(of t: Int64, in zone: TimeZone) -> Int64 {
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))))
        return (t + offset).floorDivided(by: 86_400)
    }

    /// Year, month (1-12), day (1-31) and weekday (0 = Sunday) of a day number.
    static func civil(_ day: Int64) -> (year: Int, month: Int, day: Int, weekday: Int) {
        let components = utcCalendar.dateComponents(
            [.year, .month, .day, .weekday], from: Date(timeIntervalSince1970: Double(day * 86_400)))
        return (components.year!, components.month!, components.day!, components.weekday! - 1)
    }
}

private let utcCalendar: Calendar = {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar
}()

extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
