import ArchiveFormat
import Foundation
import LibPQ

/// `archive_batches`: one row per committed archive batch, written in the same transaction
/// as the batch's delete. Each row names its database and table, so several tables (and
/// configurations) can share pgsweep's schema and each sees only its own batches.
public struct ArchiveLedger {
    public let schema: String

    public init(schema: String) { self.schema = schema }

    var table: String { QualifiedName(schema: schema, name: "archive_batches").quoted }

    /// Records a batch (of partition `partitionID`, when copied out whole); call inside the
    /// batch's transaction.
    func record(_ manifest: ArchiveManifest, relativePath: String, partitionID: Int64? = nil, on connection: Connection) throws {
        guard let source = manifest.source else { preconditionFailure("a new manifest always names its source") }
        try connection.execute(
            """
            INSERT INTO \(table) (run_id, job, table_name, database_system_id, database_name, file, format_version, row_count,
                                  min_id, max_id, min_time, max_time, bytes, sha256, partition_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            """,
            [manifest.runID, manifest.job, QualifiedName(schema: source.schema, name: source.table).quoted, source.systemIdentifier,
             source.database, relativePath, manifest.formatVersion, manifest.rows, manifest.minID, manifest.maxID,
             manifest.minCreatedAt, manifest.maxCreatedAt, manifest.bytes, manifest.sha256, partitionID])
    }

    /// One ledger row.
    public struct Entry: Sendable, Codable {
        public var file: String
        public var rows: Int64
        public var bytes: Int64
        public var sha256: String
        public var job: String
        public var runID: Int64?
        public var createdAt: Date
        public var minID: Int64?
        public var maxID: Int64?
    }

    /// The ledger rows of `table`, oldest first: rows naming its database and table, and rows
    /// from before the ledger named them (format 1) whose table is the configured one.
    public func entries(of table: QueueTable, on connection: Connection) throws -> [Entry] {
        try connection.query(
            """
            SELECT file, row_count, bytes, sha256, job, run_id, created_at, min_id, max_id FROM \(self.table)
            WHERE (table_name = $1 AND database_system_id = $2 AND database_name = $3)
               OR (database_system_id IS NULL AND table_name = ANY($4))
            ORDER BY id
            """,
            [table.name.quoted, table.database.systemIdentifier, table.database.name,
             [table.configured.description, table.name.description]]
        ).map {
            Entry(
                file: try $0.require(String.self, "file"), rows: try $0.require(Int64.self, "row_count"),
                bytes: try $0.require(Int64.self, "bytes"), sha256: try $0.require(String.self, "sha256"),
                job: try $0.require(String.self, "job"), runID: try $0.decode(Int64.self, "run_id"),
                createdAt: try $0.require(Date.self, "created_at"), minID: try $0.decode(Int64.self, "min_id"),
                maxID: try $0.decode(Int64.self, "max_id"))
        }
    }
}
