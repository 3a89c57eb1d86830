import ArchiveFormat
import Foundation
import LibPQ

/// `archive_batches`: one row per committed archive batch, written in the same transaction
/// as the batch's delete.
public struct ArchiveLedger {
    public let schema: String

    public init(schema: String) { self.schema = schema }

    var table: String { QualifiedName(schema: schema, name: "archive_batches").quoted }

    /// Records a batch; call inside the batch's transaction.
    func record(_ manifest: ArchiveManifest, relativePath: String, on connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO \(table) (run_id, job, table_name, file, format_version, row_count, min_id, max_id,
                                  min_time, max_time, bytes, sha256)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """,
            [manifest.runID, manifest.job, manifest.table, relativePath, manifest.formatVersion, manifest.rows, manifest.minID,
             manifest.maxID, manifest.minCreatedAt, manifest.maxCreatedAt, manifest.bytes, manifest.sha256])
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

    /// Every ledger row, oldest first.
    public func entries(on connection: Connection) throws -> [Entry] {
        try connection.query("SELECT file, row_count, bytes, sha256, job, run_id, created_at, min_id, max_id FROM \(table) ORDER BY id").map {
            Entry(
                file: try $0.decode(String.self, at: 0)!, rows: try $0.decode(Int64.self, at: 1)!,
                bytes: try $0.decode(Int64.self, at: 2)!, sha256: try $0.decode(String.self, at: 3)!,
                job: try $0.decode(String.self, at: 4)!, runID: try $0.decode(Int64.self, at: 5),
                createdAt: try $0.decode(Date.self, at: 6)!, minID: try $0.decode(Int64.self, at: 7),
                maxID: try $0.decode(Int64.self, at: 8))
        }
    }
}
