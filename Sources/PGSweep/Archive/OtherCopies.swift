import ArchiveFormat
import Foundation
import LibPQ

/// Answers "is every row of this unledgered file somewhere else?": in the table, or in a
/// file the ledger lists. Only then may the file be removed as a leftover; a file whose rows
/// exist nowhere else (its ledger row lost with an old backup, say) is always kept.
final class OtherCopies {
    private let root: String
    private let table: QualifiedName?
    private let connection: Connection?
    private let ledger: [ArchiveLedger.Entry]
    /// Ids of ledgered files read so far, by file.
    private var ledgeredIDs: [String: Set<Int64>] = [:]

    init(root: String, table: QualifiedName?, connection: Connection?, ledger: [ArchiveLedger.Entry]) {
        self.root = root
        self.table = table
        self.connection = connection
        self.ledger = ledger
    }

    /// True when every id the file holds is in the table or in a ledgered file. A file that
    /// does not read whole proves nothing, so false.
    func covers(_ path: String) throws -> Bool {
        guard let table, let connection else { return false }
        var ids: [Int64] = []
        var scanner = CSVRowScanner(capture: [0])
        do {
            try ArchiveFileReader.stream(path) { bytes in
                try scanner.consume(bytes) { values in
                    if let text = values[0], let id = Int64(text) { ids.append(id) }
                }
            }
            try scanner.finish()
        } catch {
            return false  // a file that does not read whole proves nothing
        }
        var elsewhere = Set<Int64>()
        for start in stride(from: 0, to: ids.count, by: 10_000) {
            let chunk = ids[start..<min(ids.count, start + 10_000)].map { Int($0) }
            for row in try connection.query("SELECT id FROM \(table.quoted) WHERE id = ANY($1::bigint[])", [chunk]) {
                elsewhere.insert(try row.decode(Int64.self, at: 0)!)
            }
        }
        var missing = Set(ids).subtracting(elsewhere)
        guard let low = missing.min(), let high = missing.max() else { return true }
        for entry in ledger where (entry.minID ?? Int64.min) <= high && (entry.maxID ?? Int64.max) >= low {
            missing.subtract(try idsOf(entry.file))
            if missing.isEmpty { return true }
        }
        return false
    }

    private func idsOf(_ file: String) throws -> Set<Int64> {
        if let known = ledgeredIDs[file] { return known }
        var ids = Set<Int64>()
        var scanner = CSVRowScanner(capture: [0])
        try ArchiveFileReader.stream("\(root)/\(file)") { bytes in
            try scanner.consume(bytes) { values in
                if let text = values[0], let id = Int64(text) { ids.insert(id) }
            }
        }
        ledgeredIDs[file] = ids
        return ids
    }
}
