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
        /// Seconds paused by throttle signals in all.
        public var throttledSeconds: Double
        /// Seconds paused by each signal; `ended_by` (a text) names the signal the run
        /// stopped under at `max_runtime`.
        public var throttledBy: [String: ThrottleFigure]
    }

    /// A value of `throttled_by`: seconds, or the name of the signal a run ended under.
    public enum ThrottleFigure: Sendable, Codable, Equatable {
        case seconds(Double)
        case signal(String)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) { self = .seconds(seconds) } else { self = .signal(try container.decode(String.self)) }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .seconds(let seconds): try container.encode(seconds)
            case .signal(let signal): try container.encode(signal)
            }
        }
    }

    /// The newest `limit` runs of the jobs of `queue` (the work-queue table, resolved), of
    /// `job` only when given. Runs recorded before runs named their table count as its own.
    public func recent(on connection: Connection, queue: QualifiedName, job: String?, limit: Int) throws -> [Run] {
        let table = QualifiedName(schema: schema, name: "job_runs").quoted
        let rows = try connection.query(
            """
            SELECT id, job, job_type, status, scheduled_for, started_at, finished_at,
                   extract(epoch FROM finished_at - started_at)::float8, rows_affected, bytes_written, batches, error, host,
                   throttled_seconds, throttled_by::text
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
                host: try row.require(String.self, at: 12), throttledSeconds: try row.require(Double.self, at: 13),
                throttledBy: try row.requireJSON([String: ThrottleFigure].self, at: 14))
        }
    }
}
