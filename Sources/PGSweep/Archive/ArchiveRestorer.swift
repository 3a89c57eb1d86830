import ArchiveFormat
import Foundation
import LibPQ
import Logging

/// Puts archived rows back: checks every file first, then inserts each file's rows in one
/// transaction with `ON CONFLICT (id) DO NOTHING`, so restoring twice changes nothing.
public struct ArchiveRestorer {
    public struct Options: Sendable {
        /// Only rows of this flow.
        public var flow: String?
        /// Only rows created at or after this time.
        public var from: Date?
        /// Only rows created before this time.
        public var to: Date?
        /// The table to insert into (same columns); defaults to the configured table.
        public var into: QualifiedName?
        /// Check and count only; insert nothing (READ ONLY transactions).
        public var dryRun = false
        /// Rows of a partition the archive dropped, when no partition of the target takes
        /// them: create it from the bounds its files' manifest recorded.
        public var createPartitions = false

        public init(
            flow: String? = nil, from: Date? = nil, to: Date? = nil, into: QualifiedName? = nil, dryRun: Bool = false,
            createPartitions: Bool = false
        ) {
            self.flow = flow
            self.from = from
            self.to = to
            self.into = into
            self.dryRun = dryRun
            self.createPartitions = createPartitions
        }
    }

    /// What restoring one file did.
    public struct FileResult: Sendable, Encodable {
        public var file: String
        public var rowsInFile: Int64
        /// Rows that passed the filters.
        public var matched: Int64
        public var inserted: Int64
        public var alreadyPresent: Int64
    }

    /// Whose files restore takes without `--into`: the configured database and table's.
    public let scope: ArchiveScope
    public let logger: Logger

    public init(scope: ArchiveScope, logger: Logger) {
        self.scope = scope
        self.logger = logger
    }

    /// An archive data file to restore, and whether the user named it (rather than a folder
    /// or prefix holding it).
    public struct Candidate {
        public var store: any ArchiveStore
        public var key: String
        public var named: Bool

        /// Its full name: a path or an `s3://` URL.
        public var path: String { store.describe(key) }
    }

    /// Archive data files named by `paths`: local files, folders searched recursively,
    /// `s3://bucket/key.csv.zst` objects and `s3://bucket/prefix/` prefixes listed whole (the
    /// store reached with `storage`'s S3 settings). No paths: the configured destination.
    ///
    /// - Throws: `PGSweepError.usage` for a path or object that does not exist.
    public static func files(in paths: [String], storage: PGSweepConfig.ArchiveStorage, logger: Logger? = nil) throws -> [Candidate] {
        guard !paths.isEmpty else {
            let store = try storage.makeStore(logger: logger)
            return try store.dataKeys(under: "").map { Candidate(store: store, key: $0, named: false) }
        }
        var files: [Candidate] = []
        for path in paths {
            if let (store, key) = try storage.store(for: path, logger: logger) {
                if key.hasSuffix(".csv.zst") {
                    guard try store.dataKeys(under: key).contains(key) else { throw PGSweepError.usage("\(path): no such object") }
                    files.append(Candidate(store: store, key: key, named: true))
                } else {
                    let prefix = key.isEmpty || key.hasSuffix("/") ? key : key + "/"
                    files += try store.dataKeys(under: prefix).map { Candidate(store: store, key: $0, named: false) }
                }
                continue
            }
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw PGSweepError.usage("\(path): no such file or folder")
            }
            if isFolder.boolValue {
                let store = LocalArchiveStore(root: path)
                files += try store.dataKeys(under: "").map { Candidate(store: store, key: $0, named: false) }
            } else {
                let (store, key) = LocalArchiveStore.containing(path)
                files.append(Candidate(store: store, key: key, named: true))
            }
        }
        return files
    }

    /// What a restore did, file by file, and what it left out.
    public struct Report: Sendable {
        public var files: [FileResult] = []
        /// Files in the folders given that belong to other databases or tables.
        public var ignored = 0
    }

    /// Checks every file (SHA-256, frames, row count, its source, columns against the target
    /// table) before any row is inserted; then restores them in order.
    ///
    /// Without `options.into`, only files of `scope` are taken: one found in a folder that
    /// belongs elsewhere is skipped and counted, one named by the user is refused. With
    /// `options.into`, every file goes into that table, whatever its source.
    ///
    /// - Throws: `ArchiveDamage` (nothing inserted) when a file is damaged or its columns do
    ///   not match; `PGSweepError.usage` for a named file of another table without `--into`;
    ///   `PGSweepError.checkFailed` when the target has no unique key to restore by.
    public func restore(
        _ files: [Candidate], options: Options, into target: QueueTable, on connection: Connection,
        total: ((Int64) -> Void)? = nil, progress: ((Int64) -> Void)? = nil
    ) throws -> Report {
        guard let lookup = KeyLookup(target) else {
            throw PGSweepError.checkFailed(
                "cannot restore into \(target.name): it has no primary key or unique constraint on id"
                    + (target.isPartitioned ? " and its partition key" : "")
                    + " for ON CONFLICT; add one, or restore into a table that has one (--into); nothing was inserted")
        }
        let targetColumns = Dictionary(target.columns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        var report = Report()
        var verified: [(Candidate, ArchiveManifest)] = []
        var problems: [ArchiveError] = []
        var foreign: [String] = []
        for file in files {
            do {
                // Whose file it is, from its manifest alone: other sources' files are never read whole.
                let claimed = try file.store.manifest(of: file.key)
                if options.into == nil, !scope.owns(claimed) {
                    if file.named {
                        foreign.append("\(file.path) holds rows of \(Self.origin(of: claimed)), not of \(scope)")
                    } else {
                        report.ignored += 1
                    }
                    continue
                }
                let manifest = try ArchiveFileReader.verify(file.store, file.key).manifest
                let wanted = Dictionary(manifest.columns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
                if wanted != targetColumns {
                    throw ArchiveError(
                        .columnMismatch, path: file.path,
                        "its columns (\(manifest.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", "))) do not match table \(target.name)")
                }
                verified.append((file, manifest))
            } catch let error as ArchiveError {
                problems.append(error)
            }
        }
        guard problems.isEmpty else { throw ArchiveDamage(problems: problems) }
        guard foreign.isEmpty else {
            throw PGSweepError.usage(
                foreign.joined(separator: "\n") + "\nnothing was restored; to put these rows into a table, name it with --into")
        }
        total?(verified.map(\.1.rows).reduce(0, +))
        let sequence = try idSequence(of: target, on: connection)
        for (file, manifest) in verified {
            let result = options.dryRun
                ? try count(file, manifest: manifest, lookup: lookup, options: options, on: connection)
                : try insert(file, manifest: manifest, target: target, key: lookup.columns.map(\.name), sequence: sequence,
                             options: options, on: connection)
            progress?(manifest.rows)
            logger.info(
                options.dryRun ? "would restore" : "restored",
                metadata: [LogKey.file: .string(file.path), LogKey.rowsInserted: .stringConvertible(result.inserted),
                           LogKey.rowsAlreadyPresent: .stringConvertible(result.alreadyPresent)])
            report.files.append(result)
        }
        return report
    }

    /// `database app (system 77…), table public.processing_queue`, or for format 1 the table alone.
    static func origin(of manifest: ArchiveManifest) -> String {
        manifest.source?.description ?? "table \(manifest.table) (format 1, database not recorded)"
    }

    /// The sequence behind `target.id` (serial or identity), if any.
    private func idSequence(of target: QueueTable, on connection: Connection) throws -> String? {
        guard target.type(of: "id") != nil else { return nil }
        return try connection.query("SELECT pg_get_serial_sequence($1, 'id') AS sequence", [target.name.quoted])[0]
            .decode(String.self, "sequence")
    }
}

/// Archive files that failed their checks; nothing was inserted.
public struct ArchiveDamage: Error, Sendable, CustomStringConvertible {
    public var problems: [ArchiveError]

    public var description: String {
        let count = problems.count == 1 ? "1 archive file is" : "\(problems.count) archive files are"
        return "\(count) damaged or unusable; nothing was restored:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}
