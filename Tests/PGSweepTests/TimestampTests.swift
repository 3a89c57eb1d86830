import Foundation
import LibPQ
import Testing

@Suite("timestamptz text")
struct TimestampTests {
    @Test("ISO output with any offset parses to the same instant", arguments: [
        ("2026-11-29 06:12:57.123456+00", 1_795_932_777.123456),
        ("2026-11-29 01:12:57.123456-05", 1_795_932_777.123456),
        ("2026-11-29 11:42:57.5+05:30", 1_795_932_777.5),
        ("1970-01-01 00:00:00+00", 0),
        ("1969-12-31 23:59:59.5+00", -0.5),
        ("2000-02-29T12:00:00Z", 951_825_600),
    ])
    func parses(text: String, seconds: Double) throws {
        let date = try #require(PostgresTimestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test("garbage is refused", arguments: ["", "2026-13-01 00:00:00+00", "2026-11-29", "infinity", "2026-11-29 06:12:57+0x"])
    func refuses(text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }

    @Test("format and parse are inverse to the microsecond")
    func formatParse() throws {
        for seconds in [0.0, 1_795_932_777.123456, -86_400.25, 4_102_444_800.999999] {
            let date = Date(timeIntervalSince1970: seconds)
            let text = PostgresTimestamp.format(date)
            let back = try #require(PostgresTimestamp.parse(text))
            #expect(abs(back.timeIntervalSince1970 - seconds) < 0.000_001, "\(text)")
        }
        #expect(PostgresTimestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00.000000+00")
    }
}
