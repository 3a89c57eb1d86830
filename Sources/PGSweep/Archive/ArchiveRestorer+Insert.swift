import ArchiveFormat
import Foundation
import LibPQ

extension ArchiveRestorer {
    /// The filters as SQL on the staging table: flow `$1`, `created_at` from `$2` to `$3`.
    static let filter =
        "($1::text IS NULL OR flow_name = $1) AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)"

    /// Restores one file in one transaction: its rows go to a temporary table first, then
    /// those matching the filters into `target` with `ON CONFLICT (key) DO NOTHING`.
    func insert(
        _ file: Candidate, manifest: ArchiveManifest, target: QueueTable, key: [String], sequence: String?, options: Options,
        on connection: Connection
    ) throws -> FileResult {
        let list = manifest.columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let conflict = key.map(quoteIdentifier).joined(separator: ", ")
        return try connection.transaction { connection in
            try connection.execute("CREATE TEMP TABLE pgsweep_restore (LIKE \(target.name.quoted)) ON COMMIT DROP")
            try connection.copyIn("COPY pgsweep_restore (\(list)) FROM STDIN (FORMAT csv, HEADER)") { writer in
                try ArchiveFileReader.stream(file.store, file.key) { try writer.write($0) }
            }
            let parameters: [(any PostgresBindable)?] = [options.flow, options.from, options.to]
            let matched = try connection.query("SELECT count(*) AS rows FROM pgsweep_restore WHERE \(Self.filter)", parameters)[0]
                .require(Int64.self, "rows")
            let insert =
                "INSERT INTO \(target.name.quoted) (\(list)) SELECT \(list) FROM pgsweep_restore WHERE \(Self.filter) ON CONFLICT (\(conflict)) DO NOTHING"
            let inserted: Int64
            if let partition = manifest.partition, target.isPartitioned {
                // Rows of a dropped partition: the target may have no partition for them.
                try connection.execute("SAVEPOINT pgsweep_route")
                do {
                    inserted = try connection.execute(insert, parameters).affectedRows
                } catch let error as PostgresError where error.sqlState == .checkViolation && error.message.hasPrefix("no partition of relation") {
                    try connection.execute("ROLLBACK TO SAVEPOINT pgsweep_route")
                    guard options.createPartitions else {
                        throw PGSweepError.checkFailed(
                            "no partition of \(target.name) takes the rows of \(file.path): they came from partition \(partition.name) "
                                + "(\(partition.bounds)), which the archive dropped; restore again with --create-partitions to create it "
                                + "from those bounds, or create a partition for them (files restored before this one stay restored)")
                    }
                    let created = try createPartition(partition, of: target, own: manifest.source == target.archiveSource, on: connection)
                    logger.info("created a partition for restored rows", metadata: [LogKey.partition: .string(created), LogKey.file: .string(file.path)])
                    inserted = try connection.execute(insert, parameters).affectedRows
                }
            } else {
                inserted = try connection.execute(insert, parameters).affectedRows
            }
            if let sequence {
                // Keep the id sequence ahead of restored ids, so new rows never collide with them.
                try connection.execute(
                    """
                    SELECT setval($1::regclass, m) FROM (SELECT max(id) AS m FROM \(target.name.quoted)) x
                    WHERE m IS NOT NULL AND m > coalesce(pg_sequence_last_value($1::regclass), 0)
                    """, [sequence])
            }
            return FileResult(file: file.path, rowsInFile: manifest.rows, matched: matched, inserted: inserted, alreadyPresent: matched - inserted)
        }
    }

    /// Creates the partition `partition` recorded of `target`, with its bounds: under its
    /// own name when restoring into its own table, else `<target>_<partition>` in the
    /// target's schema. Returns the name created.
    private func createPartition(_ partition: ArchiveManifest.Partition, of target: QueueTable, own: Bool, on connection: Connection) throws -> String {
        let original = (try? QualifiedName(parsing: partition.name)) ?? QualifiedName(schema: nil, name: partition.name)
        let name = own
            ? QualifiedName(schema: original.schema ?? target.schema, name: original.name)
            : QualifiedName(schema: target.schema, name: String("\(target.name.name)_\(original.name)".prefix(63)))
        try connection.execute("CREATE TABLE \(name.quoted) PARTITION OF \(target.name.quoted) \(partition.bounds)")
        return name.description
    }

    /// Counts, in a READ ONLY transaction, the rows of one file that pass the filters and how
    /// many of them the target already holds (by its key).
    func count(
        _ file: Candidate, manifest: ArchiveManifest, lookup: KeyLookup, options: Options, on connection: Connection
    ) throws -> FileResult {
        let key = lookup.columns.map(\.name)
        return try connection.transaction(.readOnly) { connection in
            var scanner = CSVRowScanner(captureNames: key + ["flow_name", "created_at"])
            var keys: [[String]] = []
            var matched: Int64 = 0
            var present: Int64 = 0
            func check() throws {
                present += Int64(try lookup.present(keys, on: connection).count)
                keys.removeAll(keepingCapacity: true)
            }
            try ArchiveFileReader.stream(file.store, file.key) { bytes in
                try scanner.consume(bytes) { values in
                    let rowKey = values[0..<key.count].compactMap { $0 }
                    guard rowKey.count == key.count else { return }
                    if let flow = options.flow, values[key.count] != flow { return }
                    if options.from != nil || options.to != nil {
                        guard let created = values[key.count + 1].flatMap(PostgresTimestamp.parse) else { return }
                        if let from = options.from, created < from { return }
                        if let to = options.to, created >= to { return }
                    }
                    matched += 1
                    keys.append(rowKey)
                    if keys.count >= 10_000 { try check() }
                }
            }
            if !scanner.missing.isEmpty {
                throw ArchiveError(.columnMismatch, path: file.path, "it has no \(scanner.missing.joined(separator: ", ")) column")
            }
            try check()
            return FileResult(file: file.path, rowsInFile: manifest.rows, matched: matched, inserted: matched - present, alreadyPresent: present)
        }
    }
}
