import ArchiveFormat
import Foundation
import LibPQ
import Logging

/// What is in the archive store (a folder or a bucket prefix) and the ledger, and whether
/// the two agree.
public struct ArchiveInventory: Sendable {
    /// The state of one archive file (or ledger row without a file).
    public enum State: String, Sendable, Encodable {
        /// In the ledger; file, SHA-256 and row count all match.
        case ok
        /// Readable and complete, with no ledger row (the database was not consulted).
        case unchecked
        /// No ledger row, and every row it holds is still in the table or in a ledgered file: a
        /// leftover of an interrupted run; `--repair` removes it.
        case leftover
        /// No ledger row, and some of its rows are neither in the table nor in a ledgered file:
        /// keep it (restore it, or find out where its ledger row went). Never removed.
        case unledgered
        /// The file is damaged, or disagrees with its manifest or its ledger row.
        case damaged
        /// The ledger has a row for a file that is not there.
        case missing
    }

    public struct Item: Sendable, Encodable {
        /// Key: the path relative to the archive folder or bucket prefix.
        public var file: String
        public var state: State
        public var rows: Int64?
        public var bytes: Int64?
        public var minCreatedAt: String?
        public var maxCreatedAt: String?
        public var detail: String?
    }

    /// The folder, or `s3://bucket/prefix/`.
    public var root: String
    public var items: [Item]
    /// Writes never finished (temporary files, open uploads) that `--repair` abandons.
    var incomplete: [IncompleteWrite] = []
    /// Whose files these are.
    public var scope: ArchiveScope
    /// Data files left out: other databases' and tables' (or, offline, none of this table's).
    public var ignored = 0
    /// Format 1 files naming this table that this database's ledger does not list: they may
    /// be another database's, so they are left out.
    public var ignoredUnattributed = 0

    /// True when something needs an operator: damage, a missing file, or an unledgered file.
    public var hasDamage: Bool { items.contains { [.damaged, .missing, .unledgered].contains($0.state) } }

    /// What was left out and why, in one line; nil when nothing was.
    public var ignoredSummary: String? {
        var parts: [String] = []
        if ignored > 0 { parts.append("\(ignored) file(s) of other databases or tables") }
        if ignoredUnattributed > 0 {
            parts.append("\(ignoredUnattributed) format 1 file(s) of a table called \(scope.configured.name) that this database's ledger does not list (they may be another database's)")
        }
        guard !parts.isEmpty else { return nil }
        return "ignored \(parts.joined(separator: " and ")): only the files of \(scope) are considered"
    }

    /// Inspects `store` for the files of `scope`; with a connection, also the ledger and the
    /// table `queue`. `deep` checks each file fully (decompression, checksums); otherwise
    /// only manifests are read.
    public static func scan(
        store: any ArchiveStore, scope: ArchiveScope, ledger: ArchiveLedger?, queue: QueueTable?, connection: Connection?, deep: Bool
    ) throws -> ArchiveInventory {
        var inventory = ArchiveInventory(root: store.location, items: [], scope: scope)
        var entries: [String: ArchiveLedger.Entry] = [:]
        var copies: OtherCopies?
        if let ledger, let queue, let connection {
            for entry in try ledger.entries(of: queue, on: connection) { entries[entry.file] = entry }
            copies = OtherCopies(store: store, queue: queue, connection: connection, ledger: Array(entries.values))
        }
        let checked = copies != nil
        var seen = Set<String>()
        for relative in try store.dataKeys(under: "") {
            let place = scope.place(of: relative)
            let entry = entries[relative]
            guard place != .elsewhere || entry != nil else {
                inventory.ignored += 1
                continue
            }
            var item = Item(file: relative, state: .ok)
            do {
                let manifest = deep ? try ArchiveFileReader.verify(store, relative).manifest : try store.manifest(of: relative)
                guard scope.owns(manifest) else {
                    inventory.ignored += 1
                    continue
                }
                if manifest.source == nil, entry == nil, checked {
                    inventory.ignoredUnattributed += 1
                    continue
                }
                seen.insert(relative)
                item.rows = manifest.rows
                item.bytes = manifest.bytes
                item.minCreatedAt = manifest.minCreatedAt
                item.maxCreatedAt = manifest.maxCreatedAt
                if let entry {
                    if entry.sha256 != manifest.sha256 || entry.rows != manifest.rows || entry.bytes != manifest.bytes {
                        item.state = .damaged
                        item.detail = "the file does not match its ledger row (SHA-256, rows or size differ)"
                    }
                } else if let copies {
                    item.state = (try? copies.covers(relative, expectedRows: manifest.rows)) == true ? .leftover : .unledgered
                    item.detail = item.state == .leftover
                        ? "no ledger row; each of its rows is in the table or a ledgered file (an interrupted run)"
                        : "no ledger row, and not every one of its rows could be found elsewhere: keep this file"
                } else {
                    item.state = .unchecked
                }
            } catch let error as ArchiveError {
                // Unreadable: this source's by its folder or its ledger row, else nobody's we know.
                guard place == .own || entry != nil else {
                    if place == .legacy { inventory.ignoredUnattributed += 1 } else { inventory.ignored += 1 }
                    continue
                }
                seen.insert(relative)
                item.state = .damaged
                item.detail = error.reason
                if error.kind == .missingManifest, entry == nil, (try? copies?.covers(relative, expectedRows: nil)) == true {
                    // Killed between publishing the data and its manifest: the data is whole and
                    // each row is safe elsewhere. Any other damage is never removed by --repair.
                    item.state = .leftover
                    item.detail = "\(error.reason); no ledger row, and each of its rows is in the table or a ledgered file"
                }
            }
            inventory.items.append(item)
        }
        for (file, entry) in entries where !seen.contains(file) {
            inventory.items.append(
                Item(file: file, state: .missing, rows: entry.rows, bytes: entry.bytes, detail: "the ledger lists this file but it is not there"))
        }
        // Temporary files and open uploads of interrupted writes, in this source's own folder only.
        for write in try store.incompleteWrites(under: "") {
            guard scope.source != nil, scope.place(of: write.key) == .own else { continue }
            inventory.items.append(Item(file: write.key, state: checked ? .leftover : .unchecked, detail: write.detail))
            if checked { inventory.incomplete.append(write) }
        }
        inventory.items.sort { $0.file < $1.file }
        return inventory
    }

    /// Removes leftovers (data file, manifest, temporary files) and abandons open uploads of
    /// interrupted writes. Returns the removed keys. Call only while holding the archive
    /// jobs' locks.
    public func removeLeftovers(from store: any ArchiveStore) throws -> [String] {
        let incompleteKeys = Set(incomplete.map(\.key))
        let files = items.filter { $0.state == .leftover && !incompleteKeys.contains($0.file) }.map(\.file)
        try store.remove(files.flatMap { [$0, ArchiveManifest.key(for: $0)] })
        try store.abandon(incomplete)
        return (files + incomplete.map(\.key)).sorted()
    }
}
