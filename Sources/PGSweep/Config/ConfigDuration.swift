import Cron

/// A length of time written in the configuration as `500ms`, `30s`, `10m`, `1h` or `7d`.
public struct ConfigDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Whole milliseconds.
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func seconds(_ seconds: Int64) -> ConfigDuration { .init(milliseconds: seconds * 1000) }

    /// Parses `<number><unit>` with unit ms, s, m, h or d; a compound such as `1h30m` is
    /// allowed. Nil for anything else.
    public init?(parsing text: String) {
        guard let milliseconds = DurationText.milliseconds(text) else { return nil }
        self.milliseconds = milliseconds
    }

    public var seconds: Double { Double(milliseconds) / 1000 }

    /// The value PostgreSQL's `statement_timeout` and `lock_timeout` settings take.
    public var postgresSetting: String { "\(milliseconds)ms" }

    public var description: String {
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds >= size && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }

    public static func < (lhs: ConfigDuration, rhs: ConfigDuration) -> Bool {
        lhs.milliseconds < rhs.milliseconds
    }
}
