import Foundation
import LibPQ

/// The indexes of one table as the catalog describes them: name, columns, predicate,
/// validity; so an index can be recognised by what it is, not only by its name.
struct IndexCatalog {
    struct Index {
        var name: String
        /// Key columns in order; empty when any key is an expression.
        var columns: [String]
        /// The predicate as PostgreSQL prints it, for partial indexes.
        var predicate: String?
        var valid: Bool
        var btree: Bool
        /// True when the index is a partition of a partitioned index.
        var attached: Bool
    }

    var indexes: [Index]

    /// Reads the indexes of the relation `oid`.
    static func read(relation oid: Int64, on connection: Connection) throws -> IndexCatalog {
        let rows = try connection.query(
            """
            SELECT c.relname AS name, i.indisvalid AND i.indisready AS valid, am.amname = 'btree' AS btree,
                   pg_get_expr(i.indpred, i.indrelid) AS predicate,
                   EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid) AS attached,
                   CASE WHEN i.indexprs IS NULL THEN
                       (SELECT json_agg(a.attname ORDER BY k.position)::text
                        FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                        WHERE k.position <= i.indnkeyatts)
                   END AS columns
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            WHERE i.indrelid = $1::oid ORDER BY c.relname
            """, [oid])
        return IndexCatalog(indexes: try rows.map { row in
            Index(
                name: try row.require(String.self, "name"),
                columns: try row.decode(String.self, "columns") == nil ? [] : try row.requireJSON([String].self, "columns"),
                predicate: try row.decode(String.self, "predicate"), valid: try row.require(Bool.self, "valid"),
                btree: try row.require(Bool.self, "btree"),
                attached: try row.require(Bool.self, "attached"))
        })
    }

    /// The index called `name`, if the relation has one.
    func named(_ name: String) -> Index? { indexes.first { $0.name == name } }

    /// A valid index that does what `definition` describes (same key columns in order, same
    /// predicate, btree, no expressions), whatever its name. With `unattached`, only one that
    /// is not yet a partition of a partitioned index.
    func equivalent(to definition: QueueIndex, unattached: Bool = false) -> Index? {
        indexes.first { index in
            index.valid && index.btree && index.columns == definition.columns
                && Self.canonical(index.predicate) == Self.canonical(definition.predicate)
                && (!unattached || !index.attached)
        }
    }

    /// A predicate reduced to what decides its meaning for the V007 predicates: PostgreSQL
    /// prints `status = 'pending'` back as `(status = 'pending'::text)`, or with casts on a
    /// `varchar` column; casts, parentheses, spaces and case are dropped.
    static func canonical(_ predicate: String?) -> String {
        guard let predicate else { return "" }
        var text = predicate
        // Casts as PostgreSQL prints them (type names in lower case, keywords in upper case).
        let types = #"("[^"]*"|character varying|timestamp with(out)? time zone|time with(out)? time zone|double precision|bit varying|[a-z_][a-z0-9_]*)"#
        if let casts = try? Regex("::" + types + #"(\([0-9, ]*\))?(\[\])?"#) {
            text = text.replacing(casts, with: "")
        }
        return String(text.lowercased().filter { !$0.isWhitespace && $0 != "(" && $0 != ")" })
    }
}
