import ArchiveFormat
import Foundation
import LibPQ

/// Which archive files are the configured database and table's own.
///
/// Many databases and tables may share one archive folder or bucket. `archive list`,
/// `verify`, `--repair` and `restore` act only on files whose manifest names this database
/// (system identifier and name) and table; the rest are counted and left alone, never
/// checked against this table's rows and never removed. Format 1 files (written before
/// files named their database) count as this table's when their manifest names the
/// configured table; `list` and `verify` take them only when this database's ledger lists
/// them, since an unledgered one may be another database's.
public struct ArchiveScope: Sendable, CustomStringConvertible {
    /// The table as configured.
    public var configured: QualifiedName
    /// The database and table, when the database could be reached.
    public var source: ArchiveSource?

    public init(configured: QualifiedName, source: ArchiveSource?) {
        self.configured = configured
        self.source = source
    }

    /// The scope of `table`.
    public init(_ table: QueueTable) {
        self.init(configured: table.configured, source: table.archiveSource)
    }

    /// Where a file at `relative` (to the archive root) may belong, from its path alone.
    enum Place {
        /// Under this source's folder.
        case own
        /// Under the format 1 folder of a table with the configured name.
        case legacy
        /// Somewhere else: another database's or table's folder.
        case elsewhere
    }

    func place(of relative: String) -> Place {
        if let source {
            if relative.hasPrefix(source.folder + "/") { return .own }
        } else {
            // Offline: this table's folder under any database's; the manifest decides.
            let parts = relative.split(separator: "/")
            let table = ArchivePaths.component(configured.name)
            if parts.count == 6,
                configured.schema.map({ parts[1] == "\(ArchivePaths.component($0)).\(table)" }) ?? parts[1].hasSuffix(".\(table)")
            {
                return .own
            }
        }
        return relative.hasPrefix(ArchivePaths.legacyFolder(table: configured.name) + "/") ? .legacy : .elsewhere
    }

    /// True when `manifest` names this database and table (offline: this table, in any
    /// database); for format 1, when it names the configured table.
    public func owns(_ manifest: ArchiveManifest) -> Bool {
        guard let named = manifest.source else {
            return [configured.description, source.map { "\($0.schema).\($0.table)" }].contains(manifest.table)
        }
        if let source { return named == source }
        return named.table == configured.name && (configured.schema == nil || named.schema == configured.schema)
    }

    /// `database app (system 77…), table public.processing_queue`, or the configured name.
    public var description: String { source?.description ?? "table \(configured) (any database)" }
}
