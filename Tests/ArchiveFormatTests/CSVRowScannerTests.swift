import ArchiveFormat
import Testing

@Suite("CSV row scanner")
struct CSVRowScannerTests {
    static let csv =
        "id,flow_name,payload,note\n"
        + "1,a,\"{\"\"k\"\": \"\"v, w\"\"}\",\n"
        + "2,\"b,c\",\"line one\nline two\",\"say \"\"hi\"\"\"\n"
        + "3,,\"\",x\n"

    static func scan(_ text: String, chunk: Int, capture: [Int]) throws -> (CSVRowScanner, [[String?]]) {
        var scanner = CSVRowScanner(capture: capture)
        var rows: [[String?]] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            try bytes[offset..<end].withUnsafeBytes { try scanner.consume($0) { rows.append($0) } }
            offset = end
        }
        try scanner.finish()
        return (scanner, rows)
    }

    @Test("quoted commas, newlines and doubled quotes, NULL and empty, split at every chunk size")
    func everySplit() throws {
        for chunk in 1...Self.csv.utf8.count {
            let (scanner, rows) = try Self.scan(Self.csv, chunk: chunk, capture: [0, 1, 2, 3])
            #expect(scanner.header == ["id", "flow_name", "payload", "note"])
            #expect(scanner.rows == 3)
            #expect(rows == [
                ["1", "a", #"{"k": "v, w"}"#, nil],
                ["2", "b,c", "line one\nline two", #"say "hi""#],
                ["3", nil, "", "x"],
            ], "chunk \(chunk)")
            // Past the last captured column the scanner skips to the row's end, but for quotes.
            let (first, firsts) = try Self.scan(Self.csv, chunk: chunk, capture: [0])
            #expect(first.rows == 3 && firsts == [["1"], ["2"], ["3"]], "chunk \(chunk)")
            let (none, nones) = try Self.scan(Self.csv, chunk: chunk, capture: [])
            #expect(none.rows == 3 && nones.count == 3, "chunk \(chunk)")
        }
    }

    @Test("data that stops inside a row or a quote is refused")
    func incomplete() {
        #expect(throws: CSVError.self) { try Self.scan("id\n1\n2", chunk: 3, capture: [0]) }
        #expect(throws: CSVError.self) { try Self.scan("id,x\n1,\"open\n", chunk: 3, capture: [0]) }
        #expect(throws: CSVError.self) { try Self.scan("", chunk: 3, capture: [0]) }
    }

    @Test("a column asked for twice fills both slots")
    func sameColumnTwice() throws {
        var scanner = CSVRowScanner(captureNames: ["id", "created_at", "flow_name", "created_at"])
        var rows: [[String?]] = []
        try Array("id,flow_name,created_at\n7,a,2026-01-02\n".utf8).withUnsafeBytes { try scanner.consume($0) { rows.append($0) } }
        try scanner.finish()
        #expect(rows == [["7", "2026-01-02", "a", "2026-01-02"]])
    }

    @Test("integers read from the bytes: signs, NULL, overflow and non-digits")
    func integers() throws {
        var scanner = CSVRowScanner(capture: [0])
        var values: [Int64?] = []
        let text = "n\n42\n-9223372036854775808\n9223372036854775807\n9223372036854775808\n\n\"\"\n4x\n-\n"
        try Array(text.utf8).withUnsafeBytes { try scanner.scan($0) { values.append($0.int64(0)) } }
        try scanner.finish()
        #expect(values == [42, .min, .max, nil, nil, nil, nil, nil])
    }
}
