import ArchiveFormat
import Foundation
import LibPQ

/// Answers "is every row of this unledgered file somewhere else?": in the table, or in a
/// file the ledger lists for this table. Only then may the file be removed as a leftover; a
/// file whose rows exist nowhere else (its ledger row lost with an old backup, say) is
/// always kept.
///
/// Rows are matched on the table's identity key, its columns found by the file's header.
/// A file proves nothing, so is never covered, when it does not read whole, holds another
/// number of rows than its manifest says, lacks a key column, or has a row without a key.
final class OtherCopies {
    private let store: any ArchiveStore
    private let lookup: KeyLookup?
    private let connection: Connection
    private let ledger: [ArchiveLedger.Entry]
    /// Keys of ledgered files read so far, by file.
    private var ledgeredKeys: [String: Set<String>] = [:]

    init(store: any ArchiveStore, queue: QueueTable, connection: Connection, ledger: [ArchiveLedger.Entry]) {
        self.store = store
        lookup = KeyLookup(queue)
        self.connection = connection
        self.ledger = ledger
    }

    /// True when every row of the file `key` is in the table or in a ledgered file.
    /// `expectedRows`, when known (from the manifest), must match the rows the file holds.
    func covers(_ key: String, expectedRows: Int64?) throws -> Bool {
        guard let lookup, let keys = try? keys(of: key, columns: lookup.columns.map(\.name)) else { return false }
        if let expectedRows, Int64(keys.count) != expectedRows { return false }
        var missing: [Int: [String]] = [:]
        for start in stride(from: 0, to: keys.count, by: 10_000) {
            let chunk = Array(keys[start..<min(keys.count, start + 10_000)])
            let present = Set(try lookup.present(chunk, on: connection))
            for (offset, key) in chunk.enumerated() where !present.contains(offset) { missing[start + offset] = key }
        }
        guard !missing.isEmpty else { return true }
        var wanted = Set(missing.values.map(Self.joined))
        let integerIDs = missing.values.compactMap { Int64($0[0]) }
        let (low, high) = (integerIDs.min(), integerIDs.max())
        for entry in ledger {
            // Files of integer ids record their range; skip those that cannot hold the ids sought.
            if integerIDs.count == missing.count, let low, let high, let minID = entry.minID, let maxID = entry.maxID,
                maxID < low || minID > high
            {
                continue
            }
            wanted.subtract(try ledgered(entry.file, columns: lookup.columns.map(\.name)))
            if wanted.isEmpty { return true }
        }
        return false
    }

    /// The key of every row of the file, or an error when a row lacks one or the file does
    /// not read whole.
    private func keys(of file: String, columns: [String]) throws -> [[String]] {
        var scanner = CSVRowScanner(captureNames: columns)
        var keys: [[String]] = []
        var incomplete = false
        try ArchiveFileReader.stream(store, file) { bytes in
            try scanner.consume(bytes) { values in
                let key = values.compactMap { $0 }
                if key.count == columns.count { keys.append(key) } else { incomplete = true }
            }
        }
        try scanner.finish()
        guard !incomplete, scanner.missing.isEmpty, Int64(keys.count) == scanner.rows else {
            throw ArchiveError(.damaged, path: store.describe(file), "a row without its key")
        }
        return keys
    }

    private func ledgered(_ file: String, columns: [String]) throws -> Set<String> {
        if let known = ledgeredKeys[file] { return known }
        let keys = Set(try keys(of: file, columns: columns).map(Self.joined))
        ledgeredKeys[file] = keys
        return keys
    }

    /// One key's values as one string (NUL never occurs in PostgreSQL text).
    private static func joined(_ key: [String]) -> String { key.joined(separator: "\u{0}") }
}
