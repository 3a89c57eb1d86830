#if canImport(Glibc)
import Glibc
#endif

/// Walks CSV as PostgreSQL's `COPY ... (FORMAT csv, HEADER)` writes it, in chunks of any
/// size, counting rows and picking out chosen columns; nothing else is kept in memory.
///
/// Fields are separated by commas and rows by newlines; a quoted field may hold commas,
/// newlines and doubled quotes. An unquoted empty field is NULL (`nil`), a quoted one is
/// the empty string.
public struct CSVRowScanner {
    /// The header's column names, once the first line is read.
    public private(set) var header: [String]?
    /// Data rows seen so far (the header not counted).
    public private(set) var rows: Int64 = 0

    /// The column position each slot captures (-1: a name the header lacks).
    private var capture: [Int]
    /// Columns to capture by header name, placed once the header is read.
    private var captureNames: [String]?
    /// For each column position of the header, whether some slot captures it.
    private var captured: [Bool] = []
    /// The last column position captured (-1 for none); set with the header.
    private var lastCaptured = Int.max
    /// Whether the current field's bytes are kept (the header's, or a captured column's).
    private var keeping = true
    private var field = 0
    private var inQuotes = false
    private var quoteSeen = false
    private var wasQuoted = false
    private var fieldStarted = false
    /// The kept bytes of the current row (of the current field, in the header).
    private var values: [UInt8] = []
    /// Where the current field's bytes start in `values`.
    private var fieldStart = 0
    /// For each slot, the start and end of its value in `values`; a start of -1 is NULL.
    private var ranges: [Int]
    private var headerFields: [String] = []

    /// A scanner that reports the values of columns `capture` (by position) for each row.
    public init(capture: [Int]) {
        self.capture = capture
        ranges = Array(repeating: -1, count: capture.count * 2)
    }

    /// A scanner that reports the values of the columns the header calls `names`, in that
    /// order, for each row; a name the header lacks always reports nil (see `missing`).
    public init(captureNames names: [String]) {
        self.init(capture: Array(repeating: -1, count: names.count))
        captureNames = names
    }

    /// Of the names asked for, those the header does not have (empty before the header is read).
    public var missing: [String] {
        guard let header, let captureNames else { return [] }
        return captureNames.filter { !header.contains($0) }
    }

    /// The captured values of one row, by slot (the order they were asked for in); valid only
    /// inside the call that receives it.
    public struct Row {
        fileprivate let values: UnsafeBufferPointer<UInt8>
        fileprivate let ranges: UnsafeBufferPointer<Int>

        /// The number of slots.
        public var count: Int { ranges.count / 2 }

        /// The bytes of slot `slot`'s value (quotes removed), or nil for NULL.
        public func bytes(_ slot: Int) -> UnsafeBufferPointer<UInt8>? {
            let start = ranges[slot * 2]
            guard start >= 0 else { return nil }
            return UnsafeBufferPointer(rebasing: values[start..<ranges[slot * 2 + 1]])
        }

        /// Slot `slot`'s value as text, or nil for NULL.
        public func string(_ slot: Int) -> String? {
            bytes(slot).map { String(decoding: $0, as: UTF8.self) }
        }

        /// Slot `slot`'s value as a decimal integer; nil for NULL or anything else.
        public func int64(_ slot: Int) -> Int64? {
            guard let bytes = bytes(slot), !bytes.isEmpty else { return nil }
            let negative = bytes[0] == 0x2D
            var index = negative ? 1 : 0
            guard index < bytes.count else { return nil }
            var value: Int64 = 0
            while index < bytes.count {
                let digit = bytes[index] &- 0x30
                guard digit < 10 else { return nil }
                let (times, overflowA) = value.multipliedReportingOverflow(by: 10)
                let (next, overflowB) = negative ? times.subtractingReportingOverflow(Int64(digit)) : times.addingReportingOverflow(Int64(digit))
                guard !overflowA, !overflowB else { return nil }
                value = next
                index += 1
            }
            return value
        }
    }

    /// Scans `bytes`; `onRow` gets the captured values of each complete data row as text.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer, onRow: ([String?]) throws -> Void) throws {
        try scan(bytes) { row in try onRow((0..<row.count).map { row.string($0) }) }
    }

    /// Scans `bytes`; `onRow` gets the captured values of each complete data row.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, onRow: (Row) throws -> Void) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let count = bytes.count
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: max(1, ranges.count)) { inPlace in
            var index = 0
            while index < count {
                // At a row's start (after the header), a row that ends in these bytes is read
                // where it lies; otherwise, and for what that declines, field by field.
                if header != nil, field == 0, !fieldStarted, !inQuotes,
                    let next = try scanRowInPlace(base, from: index, count: count, ranges: inPlace, onRow)
                {
                    index = next
                } else {
                    index = try walk(base, from: index, count: count, onRow)
                }
            }
        }
    }

    /// Reads the whole row starting at `start` in place, handing `onRow` its captured values
    /// without copying them; returns the index after its newline. Nil (nothing read, nothing
    /// changed) when the row does not end within `count`, a captured value holds a doubled
    /// quote (it must be unquoted), or a quoted value is followed by something other than a
    /// comma or newline: `walk` reads those.
    private mutating func scanRowInPlace(
        _ base: UnsafePointer<UInt8>, from start: Int, count: Int, ranges: UnsafeMutableBufferPointer<Int>,
        _ onRow: (Row) throws -> Void
    ) rethrows -> Int? {
        for slot in ranges.indices { ranges[slot] = -1 }
        var index = start
        var column = 0
        while true {
            let keep = column < captured.count && captured[column]
            let from: Int
            let to: Int
            let quoted = index < count && base[index] == 0x22
            if quoted {
                var at = index + 1
                var doubled = false
                while true {
                    guard let quote = memchr(base + at, 0x22, count - at) else { return nil }
                    let end = base.distance(to: quote.assumingMemoryBound(to: UInt8.self))
                    guard end + 1 < count else { return nil }
                    if base[end + 1] == 0x22 {  // a doubled quote: one quote of the value
                        doubled = true
                        at = end + 2
                        continue
                    }
                    from = index + 1
                    to = end
                    index = end + 1
                    break
                }
                if keep && doubled { return nil }
            } else {
                // Unquoted: up to the next comma or newline.
                var end = index
                while end < count, base[end] != 0x2C, base[end] != 0x0A { end += 1 }
                from = index
                to = end
                index = end
            }
            guard index < count else { return nil }
            if keep {
                for slot in capture.indices where capture[slot] == column {
                    ranges[slot * 2] = !quoted && from == to ? -1 : from
                    ranges[slot * 2 + 1] = to
                }
            }
            let separator = base[index]
            index += 1
            if separator == 0x0A { break }
            guard separator == 0x2C else { return nil }
            column += 1
            if column > lastCaptured {
                // Past the last captured column the row ends at the next newline, unless a
                // quote comes first (then its fields are walked one by one).
                guard let found = memchr(base + index, 0x0A, count - index) else { return nil }
                let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                if memchr(base + index, 0x22, newline - index) == nil {
                    index = newline + 1
                    break
                }
            }
        }
        rows += 1
        try onRow(Row(values: UnsafeBufferPointer(start: base, count: count), ranges: UnsafeBufferPointer(ranges)))
        return index
    }

    /// Reads `bytes` from `start` field by field, keeping what a row split across chunks
    /// needs; returns the index after the first row it ends, or `count`.
    private mutating func walk(_ base: UnsafePointer<UInt8>, from start: Int, count: Int, _ onRow: (Row) throws -> Void) throws -> Int {
        var index = start
        func offset(_ pointer: UnsafeMutableRawPointer?) -> Int? {
            pointer.map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
        }
        while index < count {
            if inQuotes {
                // Inside quotes only a quote matters: it ends the quoted text or, doubled, is one.
                let end = offset(memchr(base + index, 0x22, count - index)) ?? count
                if keeping, end > index { values.append(contentsOf: UnsafeBufferPointer(start: base + index, count: end - index)) }
                if end == count { return count }
                index = end + 1
                inQuotes = false
                quoteSeen = true
                continue
            }
            if field > lastCaptured {
                // Past the last captured column, the row ends at the next newline unless a
                // quote comes first (then the fields are walked one by one).
                let newline = offset(memchr(base + index, 0x0A, count - index)) ?? count
                if memchr(base + index, 0x22, newline - index) == nil {
                    if newline > index {
                        quoteSeen = false
                        fieldStarted = true
                    }
                    index = newline
                    if index == count { return count }
                    index += 1
                    endField()
                    try endRow(onRow)
                    return index
                }
            }
            // An unquoted run (PostgreSQL quotes a field whole or not at all) ends at the next
            // comma or newline, whichever comes first.
            let from = index
            let first = base[index]
            if first != 0x22, first != 0x2C, first != 0x0A {
                let comma = offset(memchr(base + index, 0x2C, count - index)) ?? count
                index = offset(memchr(base + index, 0x0A, comma - index)) ?? comma
                if keeping { values.append(contentsOf: UnsafeBufferPointer(start: base + from, count: index - from)) }
                quoteSeen = false
                fieldStarted = true
                if index == count { return count }
            }
            let byte = base[index]
            index += 1
            switch byte {
            case 0x22:  // "
                if quoteSeen {  // a doubled quote inside a quoted field
                    if keeping { values.append(0x22) }
                    quoteSeen = false
                }
                inQuotes = true
                wasQuoted = true
                fieldStarted = true
            case 0x2C:  // ,
                endField()
            default:  // \n
                endField()
                try endRow(onRow)
                return index
            }
        }
        return count
    }

    /// Checks the data ended at a row boundary.
    public func finish() throws(CSVError) {
        if inQuotes || fieldStarted || field != 0 {
            throw CSVError(message: "the data ends inside a row (after \(rows) complete rows)")
        }
        if header == nil { throw CSVError(message: "the data has no header line") }
    }

    private mutating func endField() {
        if keeping {
            let start = !wasQuoted && values.count == fieldStart ? -1 : fieldStart
            if header == nil {
                headerFields.append(String(decoding: values, as: UTF8.self))
                values.removeAll(keepingCapacity: true)
            } else {
                for slot in capture.indices where capture[slot] == field {
                    ranges[slot * 2] = start
                    ranges[slot * 2 + 1] = values.count
                }
            }
        }
        field += 1
        fieldStart = values.count
        keeping = header == nil || (field < captured.count && captured[field])
        wasQuoted = false
        quoteSeen = false
        fieldStarted = false
    }

    private mutating func endRow(_ onRow: (Row) throws -> Void) throws {
        if header == nil {
            header = headerFields
            if let captureNames {
                capture = captureNames.map { headerFields.firstIndex(of: $0) ?? -1 }
            }
            captured = Array(repeating: false, count: headerFields.count)
            for position in capture where captured.indices.contains(position) { captured[position] = true }
            lastCaptured = captured.lastIndex(of: true) ?? -1
        } else {
            rows += 1
            try values.withUnsafeBufferPointer { values in
                try ranges.withUnsafeBufferPointer { ranges in try onRow(Row(values: values, ranges: ranges)) }
            }
        }
        field = 0
        fieldStart = 0
        values.removeAll(keepingCapacity: true)
        for index in ranges.indices { ranges[index] = -1 }
        keeping = captured.first ?? false
    }
}

/// CSV that does not end where a row ends, or has no header.
public struct CSVError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
