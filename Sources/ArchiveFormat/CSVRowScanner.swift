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

    private var capture: [Int]
    /// Columns to capture by header name, placed once the header is read.
    private var captureNames: [String]?
    /// Whether the current field's bytes are kept (the header's, or a captured column's).
    private var keeping = true
    private var field = 0
    private var inQuotes = false
    private var quoteSeen = false
    private var wasQuoted = false
    private var fieldStarted = false
    private var buffer: [UInt8] = []
    private var captured: [String?]
    private var headerFields: [String] = []

    /// A scanner that reports the values of columns `capture` (by position) for each row.
    public init(capture: [Int]) {
        self.capture = capture
        captured = Array(repeating: nil, count: capture.count)
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

    /// Scans `bytes`; `onRow` gets the captured values of each complete data row.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer, onRow: ([String?]) throws -> Void) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let count = bytes.count
        var index = 0
        while index < count {
            if !keeping {
                // Most bytes belong to fields nobody asked for: skip to the next byte that matters.
                if inQuotes {
                    guard let quote = memchr(base + index, 0x22, count - index) else { return }
                    index = base.distance(to: quote.assumingMemoryBound(to: UInt8.self))
                } else {
                    let from = index
                    // An unquoted field (PostgreSQL quotes a field whole or not at all) ends at the
                    // next comma or newline, whichever comes first.
                    if base[index] != 0x22 {
                        let comma = memchr(base + index, 0x2C, count - index).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
                        let end = comma ?? count
                        let newline = memchr(base + index, 0x0A, end - index).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
                        index = newline ?? end
                    }
                    while index < count {
                        let byte = base[index]
                        if byte == 0x22 || byte == 0x2C || byte == 0x0A { break }
                        index += 1
                    }
                    if index > from {
                        quoteSeen = false
                        fieldStarted = true
                    }
                    if index == count { return }
                }
            }
            let byte = base[index]
            index += 1
            if inQuotes {
                if byte == 0x22 {  // "
                    inQuotes = false
                    quoteSeen = true
                } else if keeping {
                    buffer.append(byte)
                }
                continue
            }
            switch byte {
            case 0x22:
                if quoteSeen {  // a doubled quote inside a quoted field
                    if keeping { buffer.append(0x22) }
                    quoteSeen = false
                }
                inQuotes = true
                wasQuoted = true
                fieldStarted = true
            case 0x2C:  // ,
                endField()
            case 0x0A:  // \n
                endField()
                try endRow(onRow)
            default:
                quoteSeen = false
                fieldStarted = true
                if keeping { buffer.append(byte) }
            }
        }
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
            let value: String? = !wasQuoted && buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self)
            if header == nil {
                headerFields.append(value ?? "")
            } else if let slot = capture.firstIndex(of: field) {
                captured[slot] = value
            }
        }
        if !buffer.isEmpty { buffer.removeAll(keepingCapacity: true) }
        field += 1
        keeping = header == nil || capture.contains(field)
        wasQuoted = false
        quoteSeen = false
        fieldStarted = false
    }

    private mutating func endRow(_ onRow: ([String?]) throws -> Void) throws {
        if header == nil {
            header = headerFields
            if let captureNames {
                capture = captureNames.map { headerFields.firstIndex(of: $0) ?? -1 }
            }
        } else {
            rows += 1
            try onRow(captured)
        }
        field = 0
        keeping = capture.contains(0)
        for index in captured.indices { captured[index] = nil }
    }
}

/// CSV that does not end where a row ends, or has no header.
public struct CSVError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
