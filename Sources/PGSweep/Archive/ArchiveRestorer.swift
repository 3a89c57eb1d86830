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

    public let table: QualifiedName
    public let logger: Logger

    public init(table: QualifiedName, logger: Logger) {
        self.table = table
        self.logger = logger
    }

    /// Archive data files named by `paths` (files, or folders searched recursively).
    ///
    /// - Throws: `PGSweepError.usage` for a path that does not exist.
    public static func files(in paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw PGSweepError.usage("\(path): no such file or folder")
            }
            if isFolder.boolValue {
                files += ArchivePaths.dataFiles(under: path)
            } else {
                files.append(path)
            }
        }
        return files
    }

    /// Checks every file (SHA-256, frames, row count, columns against the target table)
    /// before any row is inserted; then restores them in order.
    public func restore(
        _ files: [String], options: Options, on connection: Connection, total: ((Int64) -> Void)? = nil,
        progress: ((Int64) -> Void)? = nil
    ) throws -> [FileResult] {
        let target = options.into ?? table
        let targetColumns = try columns(of: target, on: connection)
        var verified: [(String, ArchiveManifest)] = []
        var problems: [ArchiveError] = []
        for file in files {
            do {
                let manifest = try ArchiveFileReader.verify(file).manifest
                let wanted = Dictionary(manifest.columns.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
                if wanted != targetColumns {
                    throw ArchiveError(
                        .columnMismatch, path: file,
                        "its columns (\(manifest.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", "))) do not match table \(target)")
                }
                verified.append((file, manifest))
            } catch let error as ArchiveError {
                problems.append(error)
            }
        }
        guard problems.isEmpty else { throw ArchiveDamage(problems: problems) }
        total?(verified.map(\.1.rows).reduce(0, +))
        return try verified.map { file, manifest in
            let result = options.dryRun
                ? try count(file, manifest: manifest, target: target, options: options, on: connection)
                : try insert(file, manifest: manifest, target: target, options: options, on: connection)
            progress?(manifest.rows)
            logger.info(
                options.dryRun ? "would restore" : "restored",
                metadata: ["file": .string(file), "rows.inserted": .stringConvertible(result.inserted),
                           "rows.already_present": .stringConvertible(result.alreadyPresent)])
            return result
        }
    }

    private func insert(
        _ file: String, manifest: ArchiveManifest, target: QualifiedName, options: Options, on connection: Connection
    ) throws -> FileResult {
        let list = manifest.columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        return try connection.transaction { connection in
            try connection.execute("CREATE TEMP TABLE pgsweep_restore (LIKE \(target.quoted)) ON COMMIT DROP")
            try connection.copyIn("COPY pgsweep_restore (\(list)) FROM STDIN (FORMAT csv, HEADER)") { writer in
                try ArchiveFileReader.stream(file) { try writer.write($0) }
            }
            let filter = "($1::text IS NULL OR flow_name = $1) AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)"
            let parameters: [(any PostgresBindable)?] = [options.flow, options.from, options.to]
            let matched = try connection.query("SELECT count(*) FROM pgsweep_restore WHERE \(filter)", parameters)[0]
                .decode(Int64.self, at: 0) ?? 0
            let inserted = try connection.execute(
                "INSERT INTO \(target.quoted) (\(list)) SELECT \(list) FROM pgsweep_restore WHERE \(filter) ON CONFLICT (id) DO NOTHING",
                parameters
            ).affectedRows
            // Keep the id sequence ahead of restored ids, so new rows never collide with them.
            try connection.execute(
                """
                SELECT setval(s, m) FROM (
                    SELECT pg_get_serial_sequence($1, 'id') AS s, (SELECT max(id) FROM \(target.quoted)) AS m) x
                WHERE s IS NOT NULL AND m IS NOT NULL AND m > coalesce(pg_sequence_last_value(s::regclass), 0)
                """, [target.quoted])
            return FileResult(file: file, rowsInFile: manifest.rows, matched: matched, inserted: inserted, alreadyPresent: matched - inserted)
        }
    }

    private func count(
        _ file: String, manifest: ArchiveManifest, target: QualifiedName, options: Options, on connection: Connection
    ) throws -> FileResult {
        let names = manifest.columns.map(\.name)
        guard let idIndex = names.firstIndex(of: "id"), let flowIndex = names.firstIndex(of: "flow_name"),
            let createdIndex = names.firstIndex(of: "created_at")
        else { throw ArchiveError(.columnMismatch, path: file, "it has no id, flow_name or created_at column") }
        return try connection.transaction(.readOnly) { connection in
            var scanner = CSVRowScanner(capture: [idIndex, flowIndex, createdIndex])
            var ids: [Int] = []
            var matched: Int64 = 0
            var present: Int64 = 0
            func check() throws {
                guard !ids.isEmpty else { return }
                present += try connection.query("SELECT count(*) FROM \(target.quoted) WHERE id = ANY($1::bigint[])", [ids])[0]
                    .decode(Int64.self, at: 0) ?? 0
                ids.removeAll(keepingCapacity: true)
            }
            try ArchiveFileReader.stream(file) { bytes in
                try scanner.consume(bytes) { values in
                    guard let idText = values[0], let id = Int(idText) else { return }
                    if let flow = options.flow, values[1] != flow { return }
                    if options.from != nil || options.to != nil {
                        guard let created = values[2].flatMap(PostgresTimestamp.parse) else { return }
                        if let from = options.from, created < from { return }
                        if let to = options.to, created >= to { return }
                    }
                    matched += 1
                    ids.append(id)
                    if ids.count >= 10_000 { try check() }
                }
            }
            try check()
            return FileResult(file: file, rowsInFile: manifest.rows, matched: matched, inserted: matched - present, alreadyPresent: present)
        }
    }

    /// Column name → type of `table`.
    private func columns(of table: QualifiedName, on connection: Connection) throws -> [String: String] {
        let rows = try connection.query(
            """
            SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
            """, [table.quoted])
        guard !rows.isEmpty else { throw PGSweepError.tableMissing(table.description) }
        return Dictionary(try rows.map { (try $0.decode(String.self, at: 0)!, try $0.decode(String.self, at: 1)!) }, uniquingKeysWith: { a, _ in a })
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
