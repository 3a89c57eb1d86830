import Foundation

/// When a job fires: a five-field cron expression, a macro such as `@daily`, or `@every 10m`.
///
/// A pure value: it computes fire times for a time zone and does no I/O.
///
/// Semantics, as in Vixie cron: fields are minute, hour, day of month, month, day of week;
/// when both day fields are restricted (neither starts with `*`), a day matches if either
/// matches. Across daylight-saving changes, a local time that does not exist that day is
/// skipped; a local time that occurs twice fires once (at its first occurrence), except
/// that a schedule whose hour field is `*` fires in both passes of the repeated hour, so an
/// every-few-minutes job keeps its pace. `@every` intervals count from the Unix epoch, so
/// every runner agrees on the fire times.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    enum Rule: Sendable, Hashable {
        case fields(minute: CronField, hour: CronField, dayOfMonth: CronField, month: CronField, dayOfWeek: CronField)
        case every(seconds: Int64)
    }

    /// The expression as written.
    public let text: String
    let rule: Rule

    public var description: String { text }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses `text`; the error names the field at fault and what it expected.
    public init(parsing text: String) throws(CronError) {
        self.text = text
        let trimmed = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        if trimmed.hasPrefix("@every") {
            let interval = String(trimmed.dropFirst("@every".count))
            guard let milliseconds = DurationText.milliseconds(interval), milliseconds % 1000 == 0 else {
                throw CronError("@every needs a whole-second duration such as 10m or 1h30m, got \"\(interval.trimmingCharacters(in: .whitespaces))\"")
            }
            guard milliseconds >= 60_000 else { throw CronError("@every interval must be at least 1m") }
            rule = .every(seconds: milliseconds / 1000)
            return
        }
        let expanded: String
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros[trimmed.lowercased()] else {
                throw CronError(
                    "unknown macro \"\(trimmed)\"; expected one of @hourly, @daily, @weekly, @monthly, @yearly, @every <duration>")
            }
            expanded = macro
        } else {
            expanded = trimmed
        }
        let fields = expanded.split(separator: " ").map(String.init)
        guard fields.count == 5 else {
            throw CronError(
                "expected five fields (minute hour day-of-month month day-of-week) or a macro, got \(fields.count) field\(fields.count == 1 ? "" : "s")")
        }
        let minute = try CronField(parsing: fields[0], kind: .minute)
        let hour = try CronField(parsing: fields[1], kind: .hour)
        let dayOfMonth = try CronField(parsing: fields[2], kind: .dayOfMonth)
        let month = try CronField(parsing: fields[3], kind: .month)
        let dayOfWeek = try CronField(parsing: fields[4], kind: .dayOfWeek)
        rule = .fields(minute: minute, hour: hour, dayOfMonth: dayOfMonth, month: month, dayOfWeek: dayOfWeek)
        if dayOfWeek.startsWithStar || !dayOfMonth.startsWithStar {
            try Self.checkReachable(dayOfMonth: dayOfMonth, month: month, dayOfWeekRestricted: !dayOfWeek.startsWithStar)
        }
    }

    /// Refuses day-of-month and month combinations that never occur (`0 0 30 feb *`).
    private static func checkReachable(dayOfMonth: CronField, month: CronField, dayOfWeekRestricted: Bool) throws(CronError) {
        // With a restricted day of week as well, the days match by either field: always reachable.
        guard !dayOfWeekRestricted || dayOfMonth.startsWithStar else { return }
        let longest = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let reachable = month.values.contains { m in dayOfMonth.values.contains { $0 <= longest[m] } }
        if !reachable { throw CronError("the day-of-month and month fields never occur together, so it would never fire") }
    }
}
