import Foundation

/// A Swift value that can be sent as a bound statement parameter (`$1`, `$2`...).
///
/// Values travel in PostgreSQL's text format, separately from the SQL text, so they are
/// never parsed as SQL.
public protocol PostgresBindable: Sendable {
    /// The value in PostgreSQL's text input format.
    var postgresText: String { get }
}

extension String: PostgresBindable {
    public var postgresText: String { self }
}

extension Substring: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Int: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Int64: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Int32: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Bool: PostgresBindable {
    public var postgresText: String { self ? "true" : "false" }
}

extension Double: PostgresBindable {
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return "\(self)"
    }
}

extension Date: PostgresBindable {
    /// ISO 8601 in UTC with microseconds, which `timestamptz` reads exactly.
    public var postgresText: String { PostgresTimestamp.format(self) }
}

extension Array: PostgresBindable where Element: PostgresBindable {
    /// An array literal (`{"a","b"}`), each element quoted and escaped.
    public var postgresText: String {
        let items = map { element -> String in
            var quoted = "\""
            for character in element.postgresText {
                if character == "\"" || character == "\\" { quoted.append("\\") }
                quoted.append(character)
            }
            return quoted + "\""
        }
        return "{" + items.joined(separator: ",") + "}"
    }
}
