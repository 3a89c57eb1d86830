import Foundation
import LibPQ
import Logging

/// Creates and checks pgsweep's own schema and the work-queue table's V007 indexes.
public struct SchemaManager {
    public var table: QualifiedName
    /// pgsweep's own schema name (unquoted).
    public var schema: String
    public var logger: Logger

    public init(table: QualifiedName, schema: String, logger: Logger) {
        self.table = table
        self.schema = schema
        self.logger = logger
    }

    /// What `apply` did.
    public struct ApplyResult: Sendable {
        public var migrationsApplied: [Int]
        public var indexesCreated: [String]
        /// Indexes left invalid (a failed or running concurrent build); not touched.
        public var indexesInvalid: [String]
    }

    /// Applies missing migrations of pgsweep's schema, then creates any missing V007 index
    /// with `CREATE INDEX CONCURRENTLY IF NOT EXISTS`. Safe to run twice: the second run
    /// changes nothing.
    ///
    /// An invalid index is reported, never dropped: it may be a build another session is
    /// running right now.
    public func apply(on connection: Connection) throws -> ApplyResult {
        let applied = try applyMigrations(on: connection)
        guard try tableExists(on: connection) else {
            throw PGSweepError.tableMissing(table.description)
        }
        var created: [String] = []
        var invalid: [String] = []
        for status in try indexStatuses(on: connection) {
            switch status.state {
            case .valid: continue
            case .invalid, .wrongTable: invalid.append(status.name)
            case .missing:
                let definition = QueueIndex.v007.first { $0.name(for: table) == status.name }!
                logger.info("creating index", metadata: ["index": .string(status.name)])
                // Building an index on a big table outlasts any statement timeout; the lock
                // wait is still bounded by lock_timeout.
                try connection.execute("SET statement_timeout = 0")
                defer { _ = try? connection.execute("RESET statement_timeout") }
                try connection.execute(definition.createStatement(for: table, concurrently: true))
                created.append(status.name)
            }
        }
        return ApplyResult(migrationsApplied: applied, indexesCreated: created, indexesInvalid: invalid)
    }

    /// Reports the table, every expected index and pgsweep's schema version.
    public func check(on connection: Connection) throws -> SchemaReport {
        let exists = try tableExists(on: connection)
        return SchemaReport(
            table: table.description,
            tableExists: exists,
            indexes: exists ? try indexStatuses(on: connection) : QueueIndex.v007.map {
                .init(name: $0.name(for: table), state: .missing)
            },
            ownSchemaVersion: try ownSchemaVersion(on: connection),
            ownSchemaCurrentVersion: OwnSchema.currentVersion)
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
                logger.info("applying pgsweep schema migration", metadata: ["migration.version": "\(migration.version)"])
                try connection.executeScript(migration.sql(quotedSchema))
                try connection.execute(
                    "INSERT INTO \(quotedSchema).schema_migrations (version, summary, pgsweep_version) VALUES ($1, $2, $3)",
                    [migration.version, migration.summary, PGSweepVersion.current])
                applied.append(migration.version)
            }
            return applied
        }
    }

    private func tableExists(on connection: Connection) throws -> Bool {
        let rows = try connection.query("SELECT to_regclass($1) IS NOT NULL", [table.quoted])
        return try rows[0].decode(Bool.self, at: 0) ?? false
    }

    private func indexStatuses(on connection: Connection) throws -> [SchemaReport.IndexStatus] {
        let names = QueueIndex.v007.map { $0.name(for: table) }
        let rows = try connection.query(
            """
            SELECT c.relname, i.indisvalid AND i.indisready, i.indrelid = to_regclass($1)
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($1))
              AND c.relname = ANY($2)
            """, [table.quoted, names])
        var found: [String: SchemaReport.IndexState] = [:]
        for row in rows {
            let name = try row.decode(String.self, at: 0) ?? ""
            let valid = try row.decode(Bool.self, at: 1) ?? false
            let onTable = try row.decode(Bool.self, at: 2) ?? false
            found[name] = !onTable ? .wrongTable : (valid ? .valid : .invalid)
        }
        return names.map { .init(name: $0, state: found[$0] ?? .missing) }
    }
}
