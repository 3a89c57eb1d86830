import Foundation

/// The metadata written beside each archive file (`<file>.manifest.json`): enough to check
/// and restore the file with nothing else, not even the database's ledger.
public struct ArchiveManifest: Codable, Sendable, Equatable {
    /// A column of the archived table.
    public struct Column: Codable, Sendable, Equatable {
        public var name: String
        /// The type as PostgreSQL's `format_type` writes it (`bigint`, `timestamp with time zone`).
        public var type: String

        public init(name: String, type: String) {
            self.name = name
            self.type = type
        }
    }

    /// Always `pgsweep-archive`.
    public var format: String = ArchiveManifest.formatName
    /// The layout version of file and manifest; readers refuse versions newer than theirs.
    public var formatVersion: Int = ArchiveManifest.currentFormatVersion
    public var pgsweepVersion: String
    /// The table the rows came from, schema-qualified (format 1: as the configuration named it).
    public var table: String
    /// The database and table the rows came from (format 2 on; nil in format 1 files).
    public var source: ArchiveSource?
    /// The columns of the table's identity key (`id`, or `id` and the partition key), which
    /// restore uses for `ON CONFLICT` (format 2 on).
    public var key: [String]?
    /// The data file's name (no folder).
    public var file: String
    /// The CSV columns, in order; the CSV header repeats the names.
    public var columns: [Column]
    /// Data rows in the file (the header line not counted).
    public var rows: Int64
    /// Size of the compressed file in bytes.
    public var bytes: Int64
    /// SHA-256 of the compressed file, lower-case hex.
    public var sha256: String
    /// Range of the rows' `id`, when it is an integer.
    public var minID: Int64?
    public var maxID: Int64?
    /// Range of the rows' `created_at`, as PostgreSQL wrote them.
    public var minCreatedAt: String?
    public var maxCreatedAt: String?
    /// What selected the rows (`completed before 2026-11-22 03:00:00+00`).
    public var selection: String
    public var job: String
    public var runID: Int64
    public var batch: Int
    /// When the file was written (UTC, ISO 8601).
    public var writtenAt: String
    /// The partition the rows came from, when the archive took it whole (nil otherwise).
    public var partition: Partition?

    /// A partition copied out whole: its name and bounds, enough to create it again.
    public struct Partition: Codable, Sendable, Equatable {
        /// Schema-qualified and quoted, as SQL takes it (`public.queue_p20261001`).
        public var name: String
        /// As `pg_get_expr(relpartbound)` writes it: `FOR VALUES FROM (...) TO (...)`.
        public var bounds: String

        public init(name: String, bounds: String) {
            self.name = name
            self.bounds = bounds
        }
    }

    public static let formatName = "pgsweep-archive"
    /// 1: the first layout. 2: adds `source` and `key`, and files live under their source's folder.
    public static let currentFormatVersion = 2
    /// The manifest's file name beside a data file.
    public static func path(for dataPath: String) -> String { dataPath + ".manifest.json" }

    /// The manifest of a file `facts` describes, from `source`.
    public init(
        pgsweepVersion: String, source: ArchiveSource, key: [String], file: String, columns: [Column],
        facts: ArchiveFileWriter.Facts, selection: String, job: String, runID: Int64, batch: Int, writtenAt: String,
        partition: Partition? = nil
    ) {
        self.pgsweepVersion = pgsweepVersion
        self.table = "\(source.schema).\(source.table)"
        self.source = source
        self.key = key
        self.file = file
        self.columns = columns
        self.rows = facts.rows
        self.bytes = facts.bytes
        self.sha256 = facts.sha256
        self.minID = facts.minID
        self.maxID = facts.maxID
        self.minCreatedAt = facts.minCreatedAt
        self.maxCreatedAt = facts.maxCreatedAt
        self.selection = selection
        self.job = job
        self.runID = runID
        self.batch = batch
        self.writtenAt = writtenAt
        self.partition = partition
    }

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", pgsweepVersion = "pgsweep_version", table, source, key, file, columns, rows, bytes,
            sha256, minID = "min_id", maxID = "max_id", minCreatedAt = "min_created_at", maxCreatedAt = "max_created_at",
            selection, job, runID = "run_id", batch, writtenAt = "written_at", partition
    }

    /// The manifest as pretty JSON.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads the manifest at `path`, refusing formats it does not know.
    public static func read(path: String, dataPath: String) throws -> ArchiveManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ArchiveError(.missingManifest, path: dataPath, "manifest \(path) is missing")
        }
        return try decode(data, name: path, dataPath: dataPath)
    }

    /// The key of the manifest of the data object `key`.
    public static func key(for dataKey: String) -> String { path(for: dataKey) }

    /// Decodes the manifest `data` (called `path` in errors), refusing formats it does not know.
    public static func decode(_ data: Data, name path: String, dataPath: String) throws -> ArchiveManifest {
        struct Header: Decodable {
            var format: String?
            var formatVersion: Int?
            enum CodingKeys: String, CodingKey { case format, formatVersion = "format_version" }
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: data), header.format == formatName,
            let version = header.formatVersion
        else {
            throw ArchiveError(.damaged, path: dataPath, "manifest \(path) is not a pgsweep archive manifest")
        }
        guard version <= currentFormatVersion else {
            throw ArchiveError(
                .unsupportedVersion, path: dataPath,
                "written in archive format \(version); this pgsweep reads up to \(currentFormatVersion), so upgrade pgsweep to restore it")
        }
        let manifest: ArchiveManifest
        do {
            manifest = try JSONDecoder().decode(ArchiveManifest.self, from: data)
        } catch {
            throw ArchiveError(.damaged, path: dataPath, "manifest \(path) is incomplete: \(error)")
        }
        if version >= 2, manifest.source == nil || (manifest.key ?? []).isEmpty {
            throw ArchiveError(.damaged, path: dataPath, "manifest \(path) is incomplete: format \(version) needs source and key")
        }
        return manifest
    }
}
