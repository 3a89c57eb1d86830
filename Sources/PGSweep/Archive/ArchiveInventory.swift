import ArchiveFormat
import Foundation
import LibPQ
import Logging

/// What is in the archive folder and the ledger, and whether the two agree.
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
        /// Path relative to the archive folder.
        public var file: String
        public var state: State
        public var rows: Int64?
        public var bytes: Int64?
        public var minCreatedAt: String?
        public var maxCreatedAt: String?
        public var detail: String?
    }

    public var root: String
    public var items: [Item]

    /// True when something needs an operator: damage, a missing file, or an unledgered file.
    public var hasDamage: Bool { items.contains { [.damaged, .missing, .unledgered].contains($0.state) } }

    /// Inspects the folder `root`; with a connection, also the ledger and the table `table`.
    /// `deep` checks each file fully (decompression, checksums); otherwise only manifests are read.
    public static func scan(
        root: String, ledger: ArchiveLedger?, table: QualifiedName?, connection: Connection?, deep: Bool
    ) throws -> ArchiveInventory {
        let files = ArchivePaths.dataFiles(under: root)
        var entries: [String: ArchiveLedger.Entry] = [:]
        if let ledger, let connection {
            for entry in try ledger.entries(on: connection) { entries[entry.file] = entry }
        }
        var items: [Item] = []
        var seen = Set<String>()
        let copies = OtherCopies(root: root, table: table, connection: connection, ledger: Array(entries.values))
        for path in files {
            let relative = String(path.dropFirst(root.count).drop { $0 == "/" })
            seen.insert(relative)
            var item = Item(file: relative, state: .ok)
            do {
                let manifest: ArchiveManifest
                if deep {
                    manifest = try ArchiveFileReader.verify(path).manifest
                } else {
                    manifest = try ArchiveManifest.read(path: ArchiveManifest.path(for: path), dataPath: path)
                }
                item.rows = manifest.rows
                item.bytes = manifest.bytes
                item.minCreatedAt = manifest.minCreatedAt
                item.maxCreatedAt = manifest.maxCreatedAt
                if let entry = entries[relative] {
                    if entry.sha256 != manifest.sha256 || entry.rows != manifest.rows || entry.bytes != manifest.bytes {
                        item.state = .damaged
                        item.detail = "the file does not match its ledger row (SHA-256, rows or size differ)"
                    }
                } else if connection == nil {
                    item.state = .unchecked
                } else {
                    item.state = try copies.covers(path) ? .leftover : .unledgered
                    item.detail = item.state == .leftover
                        ? "no ledger row; each of its rows is in the table or a ledgered file (an interrupted run)"
                        : "no ledger row, and some of its rows are nowhere else: keep this file"
                }
            } catch let error as ArchiveError {
                item.state = .damaged
                item.detail = error.reason
                if error.kind == .missingManifest, entries[relative] == nil, connection != nil, (try? copies.covers(path)) == true {
                    // Killed between publishing the data and its manifest: the data is whole and
                    // each row is safe elsewhere. Any other damage is never removed by --repair.
                    item.state = .leftover
                    item.detail = "\(error.reason); no ledger row, and each of its rows is in the table or a ledgered file"
                }
            }
            items.append(item)
        }
        for (file, entry) in entries where !seen.contains(file) {
            items.append(Item(file: file, state: .missing, rows: entry.rows, bytes: entry.bytes, detail: "the ledger lists this file but it is not there"))
        }
        for path in ArchivePaths.temporaryFiles(under: root) {
            items.append(Item(
                file: String(path.dropFirst(root.count).drop { $0 == "/" }), state: connection == nil ? .unchecked : .leftover,
                detail: "temporary file of an interrupted write"))
        }
        items.sort { $0.file < $1.file }
        return ArchiveInventory(root: root, items: items)
    }

    /// Removes leftovers (data file, manifest, temporary files) and fsyncs their folders.
    /// Returns the removed paths (relative). Call only while holding the archive jobs' locks.
    public func removeLeftovers() throws -> [String] {
        var removed: [String] = []
        var folders = Set<String>()
        for item in items where item.state == .leftover {
            let path = "\(root)/\(item.file)"
            for candidate in [path, ArchiveManifest.path(for: path)] where FileManager.default.fileExists(atPath: candidate) {
                guard unlink(candidate) == 0 || errno == ENOENT else {
                    throw ArchiveError(.io(errno: errno), path: candidate, "cannot remove \(candidate): \(String(cString: strerror(errno)))")
                }
            }
            folders.insert((path as NSString).deletingLastPathComponent)
            removed.append(item.file)
        }
        for folder in folders { try DurableFiles.fsyncDirectory(folder) }
        return removed
    }
}
