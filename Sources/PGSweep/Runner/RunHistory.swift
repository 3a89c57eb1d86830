import Foundation
import LibPQ

/// Reads past runs from `job_runs`.
public struct RunHistory {
    public let schema: String

    public init(schema: String) { self.schema = schema }

    /// One recorded run.
    public struct Run: Sendable, Codable {
        public var id: Int64
        public var job: String
        public var type: String
        public var status: RunStatus
        public var scheduledFor: Date?
        public var startedAt: Date
        public var finishedAt: Date?
        public var duration: Double?
        public var rowsAffected: Int64
        public var bytesWritten: Int64
        public var batches: Int
        public var error: String?
        public var host: String
    }

    /// The newest `limit` runs of the jobs of `queue` (the work-queue table, resolved), of
    /// `job` only when given. Runs recorded before runs named their table count as its own.
    public func recent(on connection: Connection, queue: QualifiedName, job: String?, limit: Int) throws -> [Run] {
        let table = QualifiedName(schema: schema, name: "job_runs").quoted
        let rows = try connection.query(
            """
            SELECT id, job, job_type, status, scheduled_for, started_at, finished_at,
                   extract(epoch FROM finished_at - started_at)::float8, rows_affected, bytes_written, batches, error, host
            FROM \(table) WHERE ($1::text IS NULL OR job = $1) AND (table_name = $3 OR table_name IS NULL)
            ORDER BY started_at DESC, id DESC LIMIT $2
            """, [job, limit, queue.quoted])
        return try rows.map { row in
            Run(
                id: try row.require(Int64.self, at: 0), job: try row.require(String.self, at: 1),
                type: try row.require(String.self, at: 2),
                status: RunStatus(rawValue: try row.require(String.self, at: 3)) ?? .failed,
                scheduledFor: try row.decode(Date.self, at: 4), startedAt: try row.require(Date.self, at: 5),
                finishedAt: try row.decode(Date.self, at: 6), duration: try row.decode(Double.self, at: 7),
                rowsAffected: try row.require(Int64.self, at: 8), bytesWritten: try row.require(Int64.self, at: 9),
                batches: try row.require(Int.self, at: 10), error: try row.decode(String.self, at: 11),
                host: try row.require(String.self, at: 12))
        }
    }
}
