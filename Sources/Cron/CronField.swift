/// One field of a five-field cron expression: the set of values it allows.
struct CronField: Sendable, Hashable {
    /// Bit `v` is set when value `v` is allowed.
    var mask: UInt64
    /// True when the field's text starts with `*` (Vixie cron's notion of unrestricted).
    var startsWithStar: Bool

    func contains(_ value: Int) -> Bool { mask & (1 << UInt64(value)) != 0 }

    /// The allowed values in ascending order.
    var values: [Int] { (0..<64).filter { contains($0) } }

    /// Describes a field's name, range and names for parsing.
    struct Kind {
        var name: String
        var range: ClosedRange<Int>
        var names: [String] = []
        /// The first name's value (`jan` is 1, `sun` is 0).
        var firstNameValue = 0

        static let minute = Kind(name: "minute", range: 0...59)
        static let hour = Kind(name: "hour", range: 0...23)
        static let dayOfMonth = Kind(name: "day-of-month", range: 1...31)
        static let month = Kind(
            name: "month", range: 1...12,
            names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
            firstNameValue: 1)
        /// 0 and 7 are both Sunday.
        static let dayOfWeek = Kind(
            name: "day-of-week", range: 0...7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"])
    }

    /// Parses lists (`1,5`), ranges (`1-5`, `mon-fri`), steps (`*/15`, `0-30/10`, `5/15`)
    /// and names (`jan`, `sun`), case-insensitively.
    init(parsing text: String, kind: Kind) throws(CronError) {
        var mask: UInt64 = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw CronError("\(kind.name) field \"\(text)\": empty list item") }
            let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            var step = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value > 0 else {
                    throw CronError("\(kind.name) field \"\(text)\": step \"\(pieces[1])\" is not a positive integer")
                }
                step = value
            }
            let base = pieces[0]
            let low: Int
            let high: Int
            if base == "*" {
                (low, high) = (kind.range.lowerBound, kind.range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                low = try Self.value(base[..<dash], kind: kind, field: text)
                high = try Self.value(base[base.index(after: dash)...], kind: kind, field: text)
                guard low <= high else {
                    throw CronError("\(kind.name) field \"\(text)\": range \(base) runs backwards")
                }
            } else {
                low = try Self.value(base, kind: kind, field: text)
                high = pieces.count == 2 ? kind.range.upperBound : low
            }
            for value in stride(from: low, through: high, by: step) {
                // Day of week 7 is Sunday, stored as 0.
                let stored = kind.name == Kind.dayOfWeek.name && value == 7 ? 0 : value
                mask |= 1 << UInt64(stored)
            }
        }
        self.mask = mask
        self.startsWithStar = text.hasPrefix("*")
    }

    private static func value(_ text: Substring, kind: Kind, field: String) throws(CronError) -> Int {
        if let number = Int(text) {
            guard kind.range.contains(number) else {
                throw CronError(
                    "\(kind.name) field \"\(field)\": \(number) is out of range \(kind.range.lowerBound)-\(kind.range.upperBound)")
            }
            return number
        }
        if let index = kind.names.firstIndex(of: text.lowercased()) { return index + kind.firstNameValue }
        let hint = kind.names.isEmpty ? "a number" : "a number or a name such as \(kind.names[0])"
        throw CronError("\(kind.name) field \"\(field)\": \"\(text)\" is not \(hint)")
    }
}
