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

        public init(flow: String? = nil, from: Date? = nil, to: Date? = nil, into: QualifiedName? = nil, dryRun: Bool = false) {
            self.flow = flow
            self.from = from
            self.to = to
            self.into = into
            self.dryRun = dryRun
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

    /// An archive data file to restore, and whether the user named it (rather than a folder holding it).
    public struct Candidate: Sendable {
        public var path: String
        public var named: Bool
    }

    /// Archive data files named by `paths` (files, or folders searched recursively).
    ///
    /// - Throws: `PGSweepError.usage` for a path that does not exist.
    public static func files(in paths: [String]) throws -> [Candidate] {
        var files: [Candidate] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw PGSweepError.usage("\(path): no such file or folder")
            }
            if isFolder.boolValue {
                files += ArchivePaths.dataFiles(under: path).map { Candidate(path: $0, named: false) }
            } else {
                files.append(Candidate(path: path, named: true))
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
        var verified: [(String, ArchiveManifest)] = []
        var problems: [ArchiveError] = []
        var foreign: [String] = []
        for file in files {
            do {
                // Whose file it is, from its manifest alone: other sources' files are never read whole.
                let claimed = try ArchiveManifest.read(path: ArchiveManifest.path(for: file.path), dataPath: file.path)
                if options.into == nil, !scope.owns(claimed) {
                    if file.named {
                        foreign.append("\(file.path) holds rows of \(Self.origin(of: claimed)), not of \(scope)")
                    } else {
                        report.ignored += 1
                    }
                    continue
                }
                let manifest = try ArchiveFileReader.verify(file.path).manifest
                let wanted = Dictionary(manifest.columns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
                if wanted != targetColumns {
                    throw ArchiveError(
                        .columnMismatch, path: file.path,
                        "its columns (\(manifest.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", "))) do not match table \(target.name)")
                }
                verified.append((file.path, manifest))
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
                metadata: [LogKey.file: .string(file), LogKey.rowsInserted: .stringConvertible(result.inserted),
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
