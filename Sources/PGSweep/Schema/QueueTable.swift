import ArchiveFormat
import Foundation
import LibPQ

/// The work-queue table as the database knows it: where the configured name resolves to,
/// whether it is partitioned, its columns, and the key that identifies a row.
///
/// Read once per command; every job, the archive and restore work from it, so a name that
/// resolves into a system catalog, a view, or a table without the columns a job needs is
/// refused before any row moves.
public struct QueueTable: Sendable {
    /// A column of the table.
    public struct Column: Sendable, Equatable {
        public var name: String
        /// The type as `format_type` writes it (`bigint`, `timestamp with time zone`).
        public var type: String
    }

    /// The name as configured.
    public var configured: QualifiedName
    /// The schema-qualified name the configured one resolves to.
    public var name: QualifiedName
    /// The database the table lives in.
    public var database: DatabaseIdentity
    public var oid: UInt32
    /// True for a partitioned table (`PARTITION BY`).
    public var isPartitioned: Bool
    /// Every column, in order.
    public var columns: [Column]
    /// Top-level partition key columns (empty for a plain table).
    public var partitionKey: [String]
    /// Partition key columns of every level of the partition tree.
    public var allPartitionKeyColumns: Set<String>
    /// Columns of the unique key restore can use for `ON CONFLICT`: `id`, or on a partitioned
    /// table `id` plus the partition key; nil when the table has none.
    public var identityKey: [String]?

    /// The table's schema.
    public var schema: String { name.schema ?? "public" }

    /// The source recorded in archive files and the ledger.
    public var archiveSource: ArchiveSource {
        ArchiveSource(systemIdentifier: database.systemIdentifier, database: database.name, schema: schema, table: name.name)
    }

    /// The type of column `name`, if the table has it.
    public func type(of column: String) -> String? { columns.first { $0.name == column }?.type }

    /// The columns of `required` the table lacks, in the order given.
    public func missing(_ required: [String]) -> [String] {
        required.filter { type(of: $0) == nil }
    }

    /// SQL listing the relations that hold the rows of the table `regclass` (an SQL expression):
    /// the table itself, or every leaf partition of a partitioned table (nested ones too).
    static func leafRelations(_ regclass: String) -> String {
        """
        SELECT c.oid AS relid FROM pg_class c WHERE c.oid = \(regclass) AND c.relkind <> 'p'
        UNION ALL SELECT relid FROM pg_partition_tree(\(regclass)) WHERE isleaf
        """
    }

    /// Schemas whose tables pgsweep never maintains.
    static let systemSchemas: Set<String> = ["pg_catalog", "information_schema", "pg_toast"]

    /// Resolves `configured` on `connection`.
    ///
    /// - Throws: `PGSweepError.tableMissing` when no table has that name;
    ///   `PGSweepError.notAQueueTable` for a system catalog, a view or any other kind of relation.
    public static func resolve(_ configured: QualifiedName, on connection: Connection) throws -> QueueTable {
        let found = try connection.query(
            """
            SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text, current_database()
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass($1)
            """, [configured.quoted])
        guard let row = found.first else { throw PGSweepError.tableMissing(configured.description) }
        let oid = UInt32(try row.require(Int64.self, "oid"))
        let schema = try row.require(String.self, "nspname")
        let relation = try row.require(String.self, "relname")
        let kind = try row.require(String.self, "relkind")
        let qualified = QualifiedName(schema: schema, name: relation)
        if systemSchemas.contains(schema) || schema.hasPrefix("pg_temp") || schema.hasPrefix("pg_toast") {
            throw PGSweepError.notAQueueTable(
                "table \(configured) resolves to \(qualified), a system catalog; name the work-queue table in `table:`")
        }
        guard kind == "r" || kind == "p" else {
            let what = ["v": "a view", "m": "a materialized view", "f": "a foreign table", "S": "a sequence"][kind] ?? "not a table"
            throw PGSweepError.notAQueueTable("table \(configured) resolves to \(qualified), which is \(what)")
        }
        let columns = try connection.query(
            """
            SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
            WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """, [Int64(oid)]
        ).map { Column(name: try $0.require(String.self, "attname"), type: try $0.require(String.self, "type")) }
        var partitionKey: [String] = []
        var allKeys = Set<String>()
        if kind == "p" {
            partitionKey = try keyColumns(of: Int64(oid), on: connection)
            for level in try connection.query(
                "SELECT relid::oid::int8 AS relid FROM pg_partition_tree($1::oid::regclass) WHERE NOT isleaf", [Int64(oid)])
            {
                allKeys.formUnion(try keyColumns(of: try level.require(Int64.self, "relid"), on: connection))
            }
        }
        var table = QueueTable(
            configured: configured, name: qualified, database: try DatabaseIdentity.read(on: connection), oid: oid,
            isPartitioned: kind == "p", columns: columns, partitionKey: partitionKey, allPartitionKeyColumns: allKeys,
            identityKey: nil)
        table.identityKey = try table.findIdentityKey(on: connection)
        return table
    }

    /// The partition key columns of partitioned table `oid` (an expression counts as none).
    private static func keyColumns(of oid: Int64, on connection: Connection) throws -> [String] {
        try connection.query(
            """
            SELECT a.attname FROM pg_partitioned_table p
            CROSS JOIN LATERAL unnest(p.partattrs::int2[]) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum
            WHERE p.partrelid = $1::oid ORDER BY k.position
            """, [oid]
        ).map { try $0.require(String.self, "attname") }
    }

    /// The unique key restore relies on: a valid, immediate, non-partial unique index (a
    /// primary key or unique constraint, or a plain unique index) whose key columns are
    /// exactly `id`, or on a partitioned table `id` plus the partition key of every level
    /// (PostgreSQL requires each level's key in a partitioned table's unique index).
    private func findIdentityKey(on connection: Connection) throws -> [String]? {
        let wanted = Set(wantedKey)
        let candidates = try connection.query(
            """
            SELECT json_agg(a.attname ORDER BY k.position)::text AS columns
            FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = $1::oid AND i.indisunique AND i.indimmediate AND i.indisvalid
              AND i.indpred IS NULL AND i.indexprs IS NULL AND k.position <= i.indnkeyatts
            GROUP BY i.indexrelid
            ORDER BY bool_or(i.indisprimary) DESC, i.indexrelid
            """, [Int64(oid)])
        for row in candidates {
            let columns = try row.requireJSON([String].self, "columns")
            if Set(columns) == wanted && columns.count == wanted.count { return columns }
        }
        return nil
    }

    /// The columns the identity key must have: `id`, and on a partitioned table every
    /// level's partition key.
    private var wantedKey: [String] {
        ["id"] + (partitionKey + allPartitionKeyColumns.subtracting(partitionKey).sorted()).filter { $0 != "id" }
    }

    /// Why the archive cannot take rows from this table (restore could not put them back),
    /// or nil when it can.
    public var unrestorableReason: String? {
        guard identityKey == nil else { return nil }
        let columns = wantedKey.joined(separator: ", ")
        let what = isPartitioned ? "(\(columns))" : "id"
        return "table \(name) has no primary key or unique constraint on \(what), so archived rows could not be restored "
            + "(restore inserts with ON CONFLICT on that key); add one, for example ALTER TABLE \(name.quoted) ADD PRIMARY KEY (\(columns))"
    }
}
