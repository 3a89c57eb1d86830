import LibPQ

/// The foreign keys of other tables that reference the queue (or one of its partitions)
/// and forbid deleting a row they point at (`ON DELETE NO ACTION` or `RESTRICT`).
///
/// The archive skips the rows they point at instead of failing its batch on them (SQLSTATE
/// 23503, and every later run on the same batch): a referenced row stays in the table until
/// the row pointing at it goes. Keys that cascade or set null do not hold rows back. The
/// filter reads the referencing table once per candidate row, so an index on the
/// referencing columns, which PostgreSQL does not create by itself, keeps it cheap.
struct ReferencingKeys: Sendable {
    /// One key: the referencing table and its columns, paired with the queue's columns.
    struct Key: Sendable {
        var name: String
        /// Quoted, schema-qualified.
        var table: String
        var pairs: [(referencing: String, referenced: String)]
    }

    var keys: [Key]

    /// The keys that hold rows back; with `evenCascading`, every key that references the
    /// queue whatever its delete action (any of them keeps a partition from being detached).
    static func read(_ queue: QueueTable, evenCascading: Bool = false, on connection: Connection) throws -> ReferencingKeys {
        let rows = try connection.query(
            """
            SELECT k.conname::text AS name, k.conrelid::regclass::text AS referencing_table,
                   to_json(array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i))::text AS referencing,
                   to_json(array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                         JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i))::text AS referenced
            FROM pg_constraint k
            WHERE k.contype = 'f' AND k.conparentid = 0 AND ($2 OR k.confdeltype IN ('a', 'r'))
              AND k.confrelid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass))
            ORDER BY k.conname
            """, [Int64(queue.oid), evenCascading])
        return ReferencingKeys(keys: try rows.map { row in
            let from = try row.requireJSON([String].self, "referencing")
            let to = try row.requireJSON([String].self, "referenced")
            return Key(
                name: try row.require(String.self, "name"), table: try row.require(String.self, "referencing_table"),
                pairs: Array(zip(from, to)))
        })
    }

    /// The keys as `name on table`, joined; nil when there is none.
    var description: String? {
        keys.isEmpty ? nil : keys.map { "\($0.name) on \($0.table)" }.joined(separator: ", ")
    }

    /// A condition true for a row of `table` (the name the statement reads it by) that no key
    /// points at; nil when there is no key.
    func unreferenced(_ table: String) -> String? {
        guard !keys.isEmpty else { return nil }
        return keys.map { key in
            let matches = key.pairs.map { "r.\(quoteIdentifier($0.referencing)) = \(table).\(quoteIdentifier($0.referenced))" }
            return "NOT EXISTS (SELECT 1 FROM \(key.table) r WHERE \(matches.joined(separator: " AND ")))"
        }.joined(separator: " AND ")
    }
}
