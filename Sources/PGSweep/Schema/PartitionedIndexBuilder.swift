import Foundation
import LibPQ
import Logging

/// Builds one V007 index on a partitioned table the way PostgreSQL allows without blocking
/// writers (it refuses `CREATE INDEX CONCURRENTLY` on a partitioned table):
///
/// 1. `CREATE INDEX ... ON ONLY parent`: instant; the index is invalid while partitions lack theirs.
/// 2. For each partition: an existing index of the same definition not yet attached
///    elsewhere, or a new one built with `CREATE INDEX CONCURRENTLY`; a sub-partitioned
///    partition gets steps 1 to 3 itself.
/// 3. `ALTER INDEX parent_index ATTACH PARTITION partition_index`; once every partition's
///    is attached, PostgreSQL marks the parent's index valid.
///
/// Partitions created later (`CREATE TABLE ... PARTITION OF`) get the index automatically.
struct PartitionedIndexBuilder {
    let definition: QueueIndex
    let logger: Logger

    /// Builds index `name` on partitioned table `table` (`oid`).
    func build(name: String, on table: QualifiedName, oid: Int64, connection: Connection) throws {
        let index = QualifiedName(schema: table.schema, name: name)
        try connection.execute(createStatement(name: name, on: table, only: true, concurrently: false))
        let partitions = try connection.query(
            """
            SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind = 'p' AS partitioned
            FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE h.inhparent = $1::oid ORDER BY c.relname
            """, [oid])
        for row in partitions {
            let partition = QualifiedName(schema: try row.require(String.self, "nspname"), name: try row.require(String.self, "relname"))
            let partitionOID = try row.require(Int64.self, "oid")
            let catalog = try IndexCatalog.read(relation: partitionOID, on: connection)
            let childName: String
            if let existing = catalog.equivalent(to: definition, unattached: true) {
                childName = existing.name
            } else {
                childName = Self.partitionIndexName(definition, partition: partition.name)
                if try row.require(Bool.self, "partitioned") {
                    try build(name: childName, on: partition, oid: partitionOID, connection: connection)
                } else {
                    logger.info("creating index on a partition", metadata: [LogKey.index: .string(childName), LogKey.partition: .string("\(partition)")])
                    try connection.execute(createStatement(name: childName, on: partition, only: false, concurrently: true))
                }
            }
            let child = QualifiedName(schema: partition.schema, name: childName)
            let attached = try connection.query(
                "SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) AND inhparent = to_regclass($2)",
                [child.quoted, index.quoted])
            if attached.isEmpty {
                try connection.execute("ALTER INDEX \(index.quoted) ATTACH PARTITION \(child.quoted)")
            }
        }
    }

    private func createStatement(name: String, on table: QualifiedName, only: Bool, concurrently: Bool) -> String {
        var sql = "CREATE INDEX \(concurrently ? "CONCURRENTLY " : "")IF NOT EXISTS \(quoteIdentifier(name))"
        sql += " ON \(only ? "ONLY " : "")\(table.quoted) (\(definition.columns.joined(separator: ", ")))"
        if let predicate = definition.predicate { sql += " WHERE \(predicate)" }
        return sql
    }

    /// `idx_<partition>_<suffix>`; when that passes PostgreSQL's 63 bytes, cut short and
    /// ended with a hash of the whole name, so partitions with long, similar names never
    /// share one.
    static func partitionIndexName(_ definition: QueueIndex, partition: String) -> String {
        let full = "idx_\(partition)_\(definition.suffix)"
        guard full.utf8.count > 63 else { return full }
        // FNV-1a: any stable hash will do; it only has to tell long names apart.
        let hash = String(format: "%08x", full.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 })
        var head = full
        while head.utf8.count > 63 - 9 { head.removeLast() }
        return "\(head)_\(hash)"
    }
}
