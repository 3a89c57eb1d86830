import Foundation
import LibPQ

/// How much of each index's file holds no live entries, for every index of the table.
public struct IndexBloat: Sendable, Encodable {
    /// How a figure was obtained.
    public enum Method: String, Sendable, Encodable {
        /// `pgstatindex` (pgstattuple extension): empty and deleted pages plus the free space
        /// in leaf pages, measured by reading the index.
        case pgstatindex
        /// Expected size from the catalog statistics (row count, column widths) against the
        /// actual size; an approximation, and only as fresh as the last ANALYZE.
        case estimate
        /// No figure: not a btree, or no statistics to estimate from.
        case unknown
    }

    public var name: String
    /// The name as SQL, schema-qualified where the search path needs it (`regclass` text).
    public var qualifiedName: String
    public var sizeBytes: Int64
    /// Share of the file with no live entries, 0...1; nil when unknown.
    public var bloat: Double?
    public var method: Method
    public var valid: Bool
    public var wastedBytes: Int64 { bloat.map { Int64(Double(sizeBytes) * $0) } ?? 0 }

    /// Measures every index of `table`; on a partitioned table, every partition's. With
    /// `preferEstimate`, skips pgstatindex even when installed.
    public static func measure(table: QualifiedName, on connection: Connection, preferEstimate: Bool = false) throws -> [IndexBloat] {
        let hasPgstattuple = try !connection.query("SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple'").isEmpty
        let indexes = try connection.query(
            """
            SELECT c.oid::regclass::text, c.relname, pg_relation_size(c.oid), i.indisvalid AND i.indisready, am.amname
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            WHERE i.indrelid IN (\(leaves)) ORDER BY c.relname
            """, [table.quoted])
        let estimates = try estimate(table: table, on: connection)
        return try indexes.map { row in
            let qualified = try row.require(String.self, at: 0)
            let name = try row.require(String.self, at: 1)
            let size = try row.require(Int64.self, at: 2)
            let valid = try row.require(Bool.self, at: 3)
            let btree = try row.decode(String.self, at: 4) == "btree"
            if btree, valid, hasPgstattuple, !preferEstimate {
                let stats = try connection.query(
                    """
                    SELECT internal_pages, leaf_pages, empty_pages, deleted_pages, avg_leaf_density
                    FROM pgstatindex($1)
                    """, [qualified])[0]
                let upper = Double(try stats.decode(Int64.self, at: 0) ?? 0)
                let leaf = Double(try stats.decode(Int64.self, at: 1) ?? 0)
                let empty = Double(try stats.decode(Int64.self, at: 2) ?? 0)
                let deleted = Double(try stats.decode(Int64.self, at: 3) ?? 0)
                let density = (try stats.decode(Double.self, at: 4)).flatMap { $0.isNaN ? nil : $0 } ?? 100
                let pages = upper + leaf + empty + deleted + 1
                let wasted = empty + deleted + leaf * (1 - density / 100)
                return IndexBloat(
                    name: name, qualifiedName: qualified, sizeBytes: size, bloat: pages > 1 ? min(1, wasted / pages) : 0,
                    method: .pgstatindex, valid: valid)
            }
            if btree, let expected = estimates[name], size > 0 {
                let bloat = max(0, 1 - Double(expected) / Double(size))
                return IndexBloat(name: name, qualifiedName: qualified, sizeBytes: size, bloat: bloat, method: .estimate, valid: valid)
            }
            return IndexBloat(name: name, qualifiedName: qualified, sizeBytes: size, bloat: nil, method: .unknown, valid: valid)
        }
    }

    /// The relations holding a table's rows and index entries, `$1` being the table's name.
    static let leaves = QueueTable.leafRelations("to_regclass($1)")

    /// Expected size in bytes of each btree index, from `pg_stats` widths and the index's own
    /// row count: entries of (8-byte tuple header + the columns' average widths, aligned to 8)
    /// plus a 4-byte line pointer, packed to the index's fillfactor (default 90%) on pages of
    /// block size less the page header and btree trailer, plus one upper-level page for every
    /// so many leaf pages and the metapage.
    static func estimate(table: QualifiedName, on connection: Connection) throws -> [String: Int64] {
        let rows = try connection.query(
            """
            SELECT c.relname,
                   greatest(c.reltuples, 0)::float8,
                   current_setting('block_size')::int,
                   coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int FROM unnest(c.reloptions) o
                             WHERE o LIKE 'fillfactor=%'), 90),
                   (SELECT sum(s.avg_width * (1 - s.null_frac))::float8
                    FROM unnest(i.indkey) AS k(attnum)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname),
                   (SELECT count(*) FROM unnest(i.indkey) AS k(attnum) WHERE k.attnum = 0) AS expressions,
                   (SELECT exp(sum(ln(greatest(1, CASE WHEN s.n_distinct >= 0 THEN s.n_distinct
                                                       ELSE -s.n_distinct * greatest(t.reltuples, 1) END))))::float8
                    FROM unnest(i.indkey) AS k(attnum)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname) AS keys,
                   i.indisunique
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE i.indrelid IN (\(leaves))
            """, [table.quoted])
        var result: [String: Int64] = [:]
        for row in rows {
            guard try row.decode(Int64.self, at: 5) == 0, let width = try row.decode(Double.self, at: 4) else { continue }
            let name = try row.require(String.self, at: 0)
            let tuples = try row.decode(Double.self, at: 1) ?? 0
            let block = Double(try row.decode(Int.self, at: 2) ?? 8192)
            let fillfactor = Double(try row.decode(Int.self, at: 3) ?? 90) / 100
            let entry = 8 + (width / 8).rounded(.up) * 8 + 4
            // Deduplication (PostgreSQL 13+): rows sharing a key share one entry, each adding a
            // 6-byte heap pointer to its posting list (up to a few hundred per list).
            let keys = min(max(1, try row.decode(Double.self, at: 6) ?? tuples), max(tuples, 1))
            let unique = try row.decode(Bool.self, at: 7) ?? false
            let duplicates = tuples / keys
            let perRow = !unique && duplicates >= 2 ? 6 + entry / min(duplicates, 400) : entry
            let usable = (block - 24 - 16) * fillfactor
            let leaves = max(1, (tuples * perRow / usable).rounded(.up))
            let uppers = (leaves / max(1, (usable / entry).rounded(.down))).rounded(.up)
            result[name] = Int64((leaves + uppers + 1) * block)
        }
        return result
    }
}
