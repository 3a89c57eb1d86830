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
        }
    }

    @Test("data that stops inside a row or a quote is refused")
    func incomplete() {
        #expect(throws: CSVError.self) { try Self.scan("id\n1\n2", chunk: 3, capture: [0]) }
        #expect(throws: CSVError.self) { try Self.scan("id,x\n1,\"open\n", chunk: 3, capture: [0]) }
        #expect(throws: CSVError.self) { try Self.scan("", chunk: 3, capture: [0]) }
    }
}
