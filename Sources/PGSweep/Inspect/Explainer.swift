import Foundation
import LibPQ
import Logging

/// Shows each job's batch queries with their plans and checks that each uses its index.
public struct Explainer {
    public let config: PGSweepConfig
    public let logger: Logger

    public init(config: PGSweepConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// One planned batch query.
    public struct Query: Sendable, Encodable {
        public var title: String
        public var sql: String
        public var plan: String
        public var indexesUsed: [String]
        public var expectedIndexes: [String]
        public var sequentialScan: Bool
        /// Why an index other than the expected ones is accepted, when one is.
        public var note: String?
        /// True when the plan uses an expected index and does not scan the table sequentially.
        public var usesIndex: Bool
    }

    /// One job's queries, or why it has none.
    public struct Job: Sendable, Encodable {
        public var job: String
        public var type: String
        public var queries: [Query]
        public var note: String?
        public var ok: Bool { queries.allSatisfy(\.usesIndex) }
    }

    /// Plans the batch queries of `jobs`, in a READ ONLY transaction.
    public func explain(_ jobs: [JobDefinition], on connection: Connection) throws -> [Job] {
        try connection.transaction(.readOnly) { connection in
            let now = try connection.query("SELECT now() AS now")[0].require(Date.self, "now")
            let queue = try QueueTable.resolve(config.table, on: connection)
            let relations = try Relations.read(queue, on: connection)
            let actual = Dictionary(
                uniqueKeysWithValues: try SchemaManager(table: config.table, schema: config.schema, logger: logger)
                    .indexStatuses(of: queue, on: connection).map { ($0.name, $0.actualName) })
            return try jobs.map { definition in
                let job = definition.job(config: config)
                guard let explainable = job as? any ExplainableJob else {
                    return Job(job: definition.name, type: definition.type.rawValue, queries: [], note: job.explainNote)
                }
                var context = JobContext(
                    connection: connection, logger: logger, table: config.table, limits: definition.limits,
                    statementTimeout: config.database.statementTimeout, lockTimeout: config.database.lockTimeout,
                    dryRun: true, shutdown: Shutdown(), startedAt: now)
                context.resolvedTable = queue
                let queries = try explainable.batchQueries(context).map {
                    try plan($0, relations: relations, actualNames: actual, on: connection)
                }
                var note: String?
                if let archive = explainable as? ArchiveJob, queue.isPartitioned, config.archive.partitions == .whole {
                    let survey = try PartitionSurvey.read(archive, queue: queue, now: now, on: connection)
                    note = (["partitions (archive.partitions: whole):"] + survey.lines).joined(separator: "\n   ")
                }
                return Job(job: definition.name, type: definition.type.rawValue, queries: queries, note: note)
            }
        }
    }

    /// The relations a plan may name for the table: the table or its partitions, and each
    /// index with the table's own index it belongs to (a partition's index → the parent's).
    struct Relations {
        /// Relations whose sequential scan is a problem: the table, or each partition but the
        /// small ones (under `smallPartitionPages`), which PostgreSQL rightly reads whole.
        var tables: Set<String>
        var rootIndex: [String: String]

        /// Pages (8 kB) below which a partition's sequential scan is cheaper than any index
        /// and is not reported: 1 MB.
        static let smallPartitionPages = 128

        static func read(_ queue: QueueTable, on connection: Connection) throws -> Relations {
            let tables = try connection.query(
                """
                SELECT c.relname FROM (\(QueueTable.leafRelations("$1::oid::regclass"))) t JOIN pg_class c ON c.oid = t.relid
                WHERE NOT $2 OR c.relpages >= $3
                """,
                [Int64(queue.oid), queue.isPartitioned, smallPartitionPages]
            ).map { try $0.require(String.self, "relname") }
            var roots: [String: String] = [:]
            for row in try connection.query(
                """
                SELECT c.relname AS name, r.relname AS root
                FROM (\(QueueTable.leafRelations("$1::oid::regclass"))) t
                JOIN pg_index i ON i.indrelid = t.relid
                JOIN pg_class c ON c.oid = i.indexrelid
                JOIN pg_class r ON r.oid = coalesce(pg_partition_root(i.indexrelid), i.indexrelid)
                """, [Int64(queue.oid)])
            {
                roots[try row.require(String.self, "name")] = try row.require(String.self, "root")
            }
            return Relations(tables: Set(tables), rootIndex: roots)
        }
    }

    private func plan(_ query: BatchQuery, relations: Relations, actualNames: [String: String], on connection: Connection) throws -> Query {
        for (sql, parameters) in query.setup { try connection.execute(sql, parameters) }
        let text = try connection.query("EXPLAIN \(query.sql)", query.parameters)
            .map { try $0.decode(String.self, at: 0) ?? "" }.joined(separator: "\n")
        var indexes: [String] = []
        var sequential = false
        try Plan(query.sql, query.parameters, on: connection).walk { node in
            if let index = node["Index Name"] as? String { indexes.append(relations.rootIndex[index] ?? index) }
            if node["Node Type"] as? String == "Seq Scan", let relation = node["Relation Name"] as? String,
                relations.tables.contains(relation)
            {
                sequential = true
            }
        }
        func names(_ suffixes: [String]) -> [String] {
            suffixes.compactMap { suffix in
                QueueIndex.v007.first { $0.suffix == suffix }.map { actualNames[$0.name(for: config.table)] ?? $0.name(for: config.table) }
            }
        }
        var expected = names(query.acceptableIndexes)
        var seen = Set<String>()
        indexes = indexes.filter { seen.insert($0).inserted }
        var note: String?
        // PostgreSQL 18 reads an index led by flow_name for one status by skipping from flow
        // to flow. On the seed's tables that plan reads the same rows as the one through
        // (status, created_at) which 15 picks: both find every row of the status, then sort.
        let skipping = names(query.skipScanIndexes).filter(indexes.contains)
        if connection.serverVersion >= 180_000, !skipping.isEmpty, !indexes.contains(where: expected.contains) {
            expected += skipping
            note = "\(skipping.joined(separator: ", ")) accepted: PostgreSQL 18 reads it by a skip scan over flow_name, "
                + "finding the same rows as an index led by status would"
        }
        return Query(
            title: query.title, sql: query.sql, plan: text, indexesUsed: indexes, expectedIndexes: expected,
            sequentialScan: sequential, note: note, usesIndex: !sequential && indexes.contains(where: expected.contains))
    }
}
