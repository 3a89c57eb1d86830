import Foundation
import LibPQ
import Logging

/// Creates and checks pgsweep's own schema and the work-queue table's V007 indexes.
public struct SchemaManager {
    public var table: QualifiedName
    /// pgsweep's own schema name (unquoted).
    public var schema: String
    /// The configured jobs, whose columns `check` looks for.
    public var jobs: [any MaintenanceJob]
    public var logger: Logger

    public init(table: QualifiedName, schema: String, logger: Logger) {
        self.table = table
        self.schema = schema
        self.jobs = []
        self.logger = logger
    }

    /// The manager for `config`'s table, schema and jobs.
    public init(config: PGSweepConfig, logger: Logger) {
        self.init(table: config.table, schema: config.schema, logger: logger)
        jobs = config.jobs.map { $0.job(config: config) }
    }

    /// What `apply` did.
    public struct ApplyResult: Sendable {
        public var migrationsApplied: [Int]
        public var indexesCreated: [String]
        /// Indexes left invalid (a failed or running concurrent build), or names another
        /// table's index holds; not touched.
        public var indexesInvalid: [String]
        /// Expected indexes found under other names (expected name → existing name).
        public var indexesEquivalent: [(expected: String, existing: String)]
        /// The flow/status statistics object, when this run created it.
        public var statisticsCreated: String? = nil
    }

    /// Applies missing migrations of pgsweep's schema, then creates any missing V007 index
    /// without blocking writers: `CREATE INDEX CONCURRENTLY IF NOT EXISTS` on a plain table;
    /// on a partitioned one, an index on the parent alone (`ON ONLY`), one built concurrently
    /// on each partition, each then attached. An index that already exists under another
    /// name with the same definition counts as present. Safe to run twice: the second run
    /// changes nothing.
    ///
    /// An invalid index is reported, never dropped: it may be a build another session is
    /// running right now.
    public func apply(on connection: Connection) throws -> ApplyResult {
        let applied = try applyMigrations(on: connection)
        let queue = try QueueTable.resolve(table, on: connection)
        var result = ApplyResult(migrationsApplied: applied, indexesCreated: [], indexesInvalid: [], indexesEquivalent: [])
        for status in try indexStatuses(of: queue, on: connection) {
            switch status.state {
            case .valid:
                if let existing = status.existing { result.indexesEquivalent.append((status.name, existing)) }
            case .invalid, .wrongTable: result.indexesInvalid.append(status.name)
            case .missing:
                let definition = QueueIndex.v007.first { $0.name(for: table) == status.name }!
                logger.info("creating index", metadata: [LogKey.index: .string(status.name)])
                // Building an index on a big table outlasts any statement timeout; the lock
                // wait is still bounded by lock_timeout.
                try connection.withSettings([("statement_timeout", "0")]) {
                    if queue.isPartitioned {
                        try PartitionedIndexBuilder(definition: definition, logger: logger)
                            .build(name: status.name, on: queue.name, oid: Int64(queue.oid), connection: connection)
                    } else {
                        try connection.execute(definition.createStatement(for: queue.name, concurrently: true))
                    }
                }
                created(status.name, on: queue, connection: connection, into: &result)
            }
        }
        result.statisticsCreated = try applyFlowStatistics(on: queue, connection: connection)
        return result
    }

    /// The name of the table's statistics object on (flow_name, status).
    func flowStatisticsName(for table: QualifiedName) -> QualifiedName {
        QualifiedName(schema: table.schema, name: "\(table.name)_flow_status_stats")
    }

    /// Creates the table's multi-column statistics on (flow_name, status) when missing, and
    /// analyzes the table so they exist at once. Without them the planner multiplies the two
    /// columns' frequencies as if unrelated, and a count `status` and the queue gauges show as
    /// an estimate (a flow with many rows by status) is off by as much as the flows differ: a
    /// stalled flow's pending rows read as the table's average. The MCV list holds every
    /// pair while flows × statuses stay within the statistics target (100 by default).
    private func applyFlowStatistics(on queue: QueueTable, connection: Connection) throws -> String? {
        let name = flowStatisticsName(for: queue.name)
        let exists = try connection.query(
            "SELECT 1 FROM pg_statistic_ext WHERE stxrelid = $1::oid AND stxkeys::text = (SELECT string_agg(attnum::text, ' ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = $1::oid AND attname IN ('flow_name', 'status')) AND 'm' = ANY(stxkind)",
            [Int64(queue.oid)])
        guard exists.isEmpty else { return nil }
        let owner = try connection.query(
            "SELECT pg_has_role(relowner, 'USAGE') AND has_schema_privilege(relnamespace, 'CREATE') FROM pg_class WHERE oid = $1::oid", [Int64(queue.oid)])[0].decode(Bool.self, at: 0)
        guard owner == true else {
            logger.warning(
                "statistics on (flow_name, status) missing: creating them takes the table's owner with CREATE on its schema",
                metadata: ["statistics": .string(name.description)])
            return nil
        }
        logger.info("creating statistics", metadata: ["statistics": .string(name.description)])
        try connection.execute("CREATE STATISTICS IF NOT EXISTS \(name.quoted) (mcv) ON flow_name, status FROM \(queue.name.quoted)")
        _ = try connection.withSettings([("statement_timeout", "0")]) { try connection.execute("ANALYZE \(queue.name.quoted)") }
        return name.description
    }

    private func created(_ name: String, on queue: QueueTable, connection: Connection, into result: inout ApplyResult) {
        let valid = (try? IndexCatalog.read(relation: Int64(queue.oid), on: connection).named(name)?.valid) ?? false
        if valid { result.indexesCreated.append(name) } else { result.indexesInvalid.append(name) }
    }

    /// Reports the table, every expected index, the columns each configured job needs, and
    /// pgsweep's schema version.
    public func check(on connection: Connection) throws -> SchemaReport {
        let queue: QueueTable?
        do {
            queue = try QueueTable.resolve(table, on: connection)
        } catch PGSweepError.tableMissing {
            queue = nil
        }
        return SchemaReport(
            table: queue?.name.description ?? table.description,
            tableExists: queue != nil,
            partitioned: queue?.isPartitioned ?? false,
            indexes: try queue.map { try indexStatuses(of: $0, on: connection) }
                ?? QueueIndex.v007.map { .init(name: $0.name(for: table), state: .missing) },
            jobColumns: queue.map { queue in
                jobs.map { SchemaReport.JobColumns(job: $0.definition.name, needs: $0.requiredColumns, missing: queue.missing($0.requiredColumns)) }
            } ?? [],
            ownSchemaVersion: try ownSchemaVersion(on: connection),
            ownSchemaCurrentVersion: OwnSchema.currentVersion)
    }

    /// Throws `PGSweepError.schemaNotApplied` unless pgsweep's schema is at this build's version.
    public func requireCurrent(on connection: Connection) throws {
        let version = try ownSchemaVersion(on: connection)
        guard version == OwnSchema.currentVersion else {
            throw PGSweepError.schemaNotApplied(found: version, expected: OwnSchema.currentVersion)
        }
    }

    /// The applied version of pgsweep's own schema, 0 when it has none.
    public func ownSchemaVersion(on connection: Connection) throws -> Int {
        let qualified = QualifiedName(schema: schema, name: "schema_migrations")
        let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL", [qualified.quoted])
        guard try exists[0].decode(Bool.self, at: 0) == true else { return 0 }
        let rows = try connection.query("SELECT coalesce(max(version), 0) FROM \(qualified.quoted)")
        return try rows[0].decode(Int.self, at: 0) ?? 0
    }

    private func applyMigrations(on connection: Connection) throws -> [Int] {
        let quotedSchema = quoteIdentifier(schema)
        return try connection.transaction { connection in
            // Two `schema apply` runs at once: the second waits, then finds nothing to do.
            try connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", ["pgsweep.schema:\(schema)"])
            let hasSchema = try connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])
            if hasSchema.isEmpty {
                try connection.execute("CREATE SCHEMA \(quotedSchema)")
            }
            let version = try ownSchemaVersion(on: connection)
            if version == 0 {
                try connection.execute(
                    """
                    CREATE TABLE \(quotedSchema).schema_migrations (
                        version integer PRIMARY KEY,
                        summary text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now(),
                        pgsweep_version text NOT NULL
                    )
                    """)
            }
            guard version <= OwnSchema.currentVersion else {
                throw PGSweepError.schemaTooNew(found: version, known: OwnSchema.currentVersion)
            }
            var applied: [Int] = []
            for migration in OwnSchema.migrations where migration.version > version {
                logger.info("applying pgsweep schema migration", metadata: [LogKey.migrationVersion: "\(migration.version)"])
                try connection.executeScript(migration.sql(quotedSchema))
                try connection.execute(
                    "INSERT INTO \(quotedSchema).schema_migrations (version, summary, pgsweep_version) VALUES ($1, $2, $3)",
                    [migration.version, migration.summary, PGSweepVersion.current])
                applied.append(migration.version)
            }
            return applied
        }
    }

    /// Each V007 index of `queue`: present under its name (valid or not), present under
    /// another name with the same definition, its name taken by another table's index, or missing.
    func indexStatuses(of queue: QueueTable, on connection: Connection) throws -> [SchemaReport.IndexStatus] {
        let catalog = try IndexCatalog.read(relation: Int64(queue.oid), on: connection)
        let names = QueueIndex.v007.map { $0.name(for: table) }
        // Index names are unique per schema: one of another table may hold an expected name.
        let elsewhere = Set(try connection.query(
            """
            SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('i', 'I') AND c.relname = ANY($2)
            """, [quoteIdentifier(queue.schema), names]
        ).map { try $0.require(String.self, "relname") })
        return zip(QueueIndex.v007, names).map { definition, name in
            if let index = catalog.named(name) { return .init(name: name, state: index.valid ? .valid : .invalid) }
            if let index = catalog.equivalent(to: definition) { return .init(name: name, state: .valid, existing: index.name) }
            return .init(name: name, state: elsewhere.contains(name) ? .wrongTable : .missing)
        }
    }
}
