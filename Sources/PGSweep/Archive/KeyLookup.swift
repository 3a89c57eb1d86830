import LibPQ

/// Which of a list of row keys a table holds, for keys of any type and any number of
/// columns (`id`, or `id` and a partition key), read as text from archive files.
struct KeyLookup {
    /// The table, quoted.
    let table: String
    /// The key's columns and their types (as `format_type` writes them).
    let columns: [(name: String, type: String)]

    /// The key of `queue` in `target` (a table of the same shape); nil when `queue` has none.
    init?(_ queue: QueueTable, target: QualifiedName? = nil) {
        guard let key = queue.identityKey else { return nil }
        table = (target ?? queue.name).quoted
        columns = key.map { ($0, queue.type(of: $0) ?? "text") }
    }

    /// Positions (0-based) in `keys` of the keys the table holds. Each key has one text value
    /// per column, in PostgreSQL's text form; the lookup goes through the table's key index.
    func present(_ keys: [[String]], on connection: Connection) throws -> [Int] {
        guard !keys.isEmpty else { return [] }
        let names = columns.indices.map { "k\($0)" }
        let arrays = columns.indices.map { "$\($0 + 1)::text[]" }.joined(separator: ", ")
        let match = columns.enumerated().map { index, column in
            "t.\(quoteIdentifier(column.name)) = k.k\(index)::\(column.type)"
        }.joined(separator: " AND ")
        let parameters: [(any PostgresBindable)?] = columns.indices.map { index in keys.map { $0[index] } }
        return try connection.query(
            """
            SELECT k.position FROM unnest(\(arrays)) WITH ORDINALITY AS k(\(names.joined(separator: ", ")), position)
            WHERE EXISTS (SELECT 1 FROM \(table) t WHERE \(match))
            """, parameters
        ).map { Int(try $0.require(Int64.self, "position")) - 1 }
    }
}
