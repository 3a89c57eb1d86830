import Cron
import Foundation

/// Typed readers for configuration values; each records a problem and returns nil when the
/// value does not fit.
extension ConfigValue {
    func positiveInt() -> Int? {
        parsed("a positive integer") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
    }

    func nonNegativeInt() -> Int? {
        parsed("an integer of 0 or more") { Int($0).flatMap { $0 >= 0 ? $0 : nil } }
    }

    func bool() -> Bool? {
        parsed("true or false") { ["true": true, "false": false, "yes": true, "no": false][$0.lowercased()] }
    }

    /// A duration; `allowZero` admits `0s`.
    func duration(allowZero: Bool = false) -> ConfigDuration? {
        parsed(allowZero ? "a duration like 30s (0s allowed)" : "a duration like 7d") { text in
            ConfigDuration(parsing: text).flatMap { $0.milliseconds > 0 || (allowZero && $0.milliseconds == 0) ? $0 : nil }
        }
    }

    /// A ratio written `0.3` or `30%`, between 0 and 1.
    func ratio() -> Double? {
        parsed("a ratio like 0.3 or 30%") { text in
            let value = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            return value.flatMap { (0...1).contains($0) ? $0 : nil }
        }
    }

    /// A size like `10MB` or `1GiB` (kB, MB, GB, TB count in 1024s, as PostgreSQL does).
    func byteSize() -> Int64? {
        parsed("a size like 10MB or 1GiB") { ByteSize.parse($0) }
    }

    func schedule() -> CronSchedule? {
        guard let text = string(expected: "a cron schedule") else { return nil }
        do {
            return try CronSchedule(parsing: text)
        } catch {
            problem("\(error.message) in \(text.debugDescription)")
            return nil
        }
    }

    func timeZone() -> TimeZone? {
        parsed("an IANA time zone such as UTC or Europe/Berlin") { TimeZone(identifier: $0) }
    }

    /// A list of non-empty strings.
    func stringList() -> [String]? {
        guard case .sequence(let sequence) = node else {
            problem("expected a list such as [a, b]")
            return nil
        }
        var items: [String] = []
        for (index, item) in sequence.enumerated() {
            let child = ConfigValue(node: item, path: "\(path)[\(index)]", diagnostics: diagnostics)
            guard let text = child.string(), !text.isEmpty else {
                child.problem("expected a non-empty string")
                continue
            }
            items.append(text)
        }
        return items
    }
}

/// Sizes in the configuration.
public enum ByteSize {
    /// Bytes for `10MB`, `1GiB`, `512kB`, `100B`; nil for anything else.
    public static func parse(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [
            ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
            ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10), ("KB", 1 << 10), ("B", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for (suffix, size) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            guard let value = Int64(number), value >= 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: size)
            return overflow ? nil : product
        }
        return nil
    }

    /// `bytes` in the largest unit that keeps it readable (`10MB`, `1.5GB`).
    public static func format(_ bytes: Int64) -> String {
        let units: [(String, Double)] = [("TB", 1_099_511_627_776), ("GB", 1_073_741_824), ("MB", 1_048_576), ("kB", 1024)]
        for (unit, size) in units where Double(bytes) >= size {
            let value = Double(bytes) / size
            return value == value.rounded() ? "\(Int64(value))\(unit)" : String(format: "%.1f%@", value, unit)
        }
        return "\(bytes)B"
    }
}
