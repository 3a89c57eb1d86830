import LibPQ

/// One of the work-queue table's indexes from the V007 migration.
public struct QueueIndex: Sendable, Hashable {
    /// What follows `idx_<table>_` in the index's name (`status_created_at`).
    public var suffix: String
    /// The indexed columns, in order.
    public var columns: [String]
    /// The partial-index predicate, if any.
    public var predicate: String?

    /// The index's name for `table`: `idx_<table>_<suffix>`, cut to PostgreSQL's 63 bytes.
    ///
    /// For the default table these are exactly the seed's names
    /// (`idx_processing_queue_status_created_at`...).
    public func name(for table: QualifiedName) -> String {
        var name = "idx_\(table.name)_\(suffix)"
        while name.utf8.count > 63 { name.removeLast() }
        return name
    }

    /// The index qualified with the table's schema, quoted for SQL.
    public func qualifiedName(for table: QualifiedName) -> QualifiedName {
        QualifiedName(schema: table.schema, name: name(for: table))
    }

    /// `CREATE INDEX [CONCURRENTLY] IF NOT EXISTS ...` for `table`.
    public func createStatement(for table: QualifiedName, concurrently: Bool) -> String {
        var sql = "CREATE INDEX \(concurrently ? "CONCURRENTLY " : "")IF NOT EXISTS \(quoteIdentifier(name(for: table)))"
        sql += " ON \(table.quoted) (\(columns.joined(separator: ", ")))"
        if let predicate { sql += " WHERE \(predicate)" }
        return sql
    }
}

extension QueueIndex {
    /// The eight indexes of `V007__Add_processing_indexes.sql`, in the seed's order.
    public static let v007: [QueueIndex] = [
        QueueIndex(suffix: "status_created_at", columns: ["status", "created_at"]),
        QueueIndex(suffix: "flow_name_status", columns: ["flow_name", "status"]),
        QueueIndex(suffix: "flow_instance_id", columns: ["flow_instance_id"], predicate: "flow_instance_id IS NOT NULL"),
        QueueIndex(suffix: "pending", columns: ["created_at"], predicate: "status = 'pending'"),
        QueueIndex(suffix: "processing_claimed_at", columns: ["claimed_at"], predicate: "status = 'processing'"),
        QueueIndex(suffix: "failed_retry", columns: ["retry_count", "created_at"], predicate: "status = 'failed'"),
        QueueIndex(suffix: "cleanup_timestamps", columns: ["completed_at", "created_at", "status"]),
        QueueIndex(suffix: "monitoring", columns: ["flow_name", "status", "created_at"]),
    ]
}
