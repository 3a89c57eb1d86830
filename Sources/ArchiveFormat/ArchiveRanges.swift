#if canImport(Glibc)
import Glibc
#endif

/// The id and `created_at` ranges of the rows an archive file holds, noted row by row as
/// they are scanned.
struct ArchiveRanges {
    var minID: Int64?
    var maxID: Int64?
    /// `created_at` as the CSV writes it: ISO text in one time zone, which sorts as time does.
    var minCreatedAt: [UInt8]?
    var maxCreatedAt: [UInt8]?

    /// Notes one row, whose slot 0 holds the id and slot 1 `created_at`.
    mutating func note(_ row: CSVRowScanner.Row) {
        if let id = row.int64(0) {
            if minID.map({ id < $0 }) ?? true { minID = id }
            if maxID.map({ id > $0 }) ?? true { maxID = id }
        }
        if let created = row.bytes(1) {
            if minCreatedAt.map({ Self.order(created, $0) < 0 }) ?? true { Self.keep(created, in: &minCreatedAt) }
            if maxCreatedAt.map({ Self.order(created, $0) > 0 }) ?? true { Self.keep(created, in: &maxCreatedAt) }
        }
    }

    /// `a` against `b`, byte by byte (a prefix first): negative, zero or positive.
    private static func order(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Int {
        b.withUnsafeBufferPointer { b in
            let shorter = min(a.count, b.count)
            let order = shorter == 0 ? 0 : Int(memcmp(a.baseAddress!, b.baseAddress!, shorter))
            return order != 0 ? order : a.count - b.count
        }
    }

    /// Makes `slot` hold `bytes`, reusing its storage.
    private static func keep(_ bytes: UnsafeBufferPointer<UInt8>, in slot: inout [UInt8]?) {
        guard var kept = slot.take() else {
            slot = Array(bytes)
            return
        }
        if kept.count == bytes.count {
            kept.withUnsafeMutableBufferPointer { kept in _ = memcpy(kept.baseAddress!, bytes.baseAddress!, bytes.count) }
        } else {
            kept.replaceSubrange(0..<kept.count, with: bytes)
        }
        slot = kept
    }
}
