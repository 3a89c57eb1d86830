import Foundation

/// Conversion between `Date` and PostgreSQL's ISO `timestamptz` text.
public enum PostgresTimestamp {
    /// `date` as `YYYY-MM-DD HH:MM:SS.ffffff+00`, in UTC, microsecond precision.
    public static func format(_ date: Date) -> String {
        var micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let daySeconds: Double = 86_400
        var days = (micros / (daySeconds * 1_000_000)).rounded(.down)
        micros -= days * daySeconds * 1_000_000
        if micros < 0 { days -= 1; micros += daySeconds * 1_000_000 }
        let (year, month, day) = civilDate(fromDays: Int(days))
        let total = Int64(micros)
        let seconds = total / 1_000_000
        let fraction = total % 1_000_000
        return String(
            format: "%04ld-%02ld-%02ld %02lld:%02lld:%02lld.%06lld+00", year, month, day,
            seconds / 3600, seconds / 60 % 60, seconds % 60, fraction)
    }

    /// Parses ISO-style `timestamptz` output with any UTC offset; nil for anything else.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<digits {
                let b = bytes[index]
                guard b >= 48, b <= 57 else { return nil }
                value = value * 10 + Int(b - 48)
                index += 1
            }
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45),
            let day = number(2), expect(32) || expect(84),
            let hour = number(2), expect(58), let minute = number(2), expect(58),
            let second = number(2)
        else { return nil }
        var micros = 0
        if expect(46) {
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offset = 0
        if index < bytes.count {
            if bytes[index] == 90 {  // "Z"
                index += 1
            } else {
                let sign = bytes[index] == 45 ? -1 : 1
                guard bytes[index] == 43 || bytes[index] == 45 else { return nil }
                index += 1
                guard let hours = number(2) else { return nil }
                var minutes = 0
                var secs = 0
                if expect(58) { guard let m = number(2) else { return nil }; minutes = m }
                if expect(58) { guard let s = number(2) else { return nil }; secs = s }
                offset = sign * (hours * 3600 + minutes * 60 + secs)
            }
        }
        guard index == bytes.count, (1...12).contains(month), (1...31).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilDate(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
