/// How a batch statement reaches the rows its selector locked.
///
/// The selector (`batch`, a materialized CTE) returns each locked row's partition
/// (`tableoid AS relation`) and physical address (`ctid AS address`); the statement then
/// matches rows on both. An address alone is not enough on a partitioned table: each
/// partition numbers its rows on its own, so one address can name a row in every partition,
/// rows nobody locked. The addresses cannot go stale while the batch's transaction holds
/// the rows' locks. `ctid = ANY(...)` lets PostgreSQL fetch the rows by address (a TID
/// scan per partition) instead of scanning the table.
enum BatchRows {
    /// The condition, on the updated table aliased `q`, that picks exactly the locked rows.
    static let lockedByBatch =
        "q.ctid = ANY(ARRAY(SELECT address FROM batch)) AND (q.tableoid, q.ctid) IN (SELECT relation, address FROM batch)"
}
