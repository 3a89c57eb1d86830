import Foundation
import LibPQ

/// A statement's plan as `EXPLAIN (FORMAT JSON)` gives it: the planner's row estimate and
/// each node, for `explain`'s index checks and the archive's fallback progress total.
struct Plan {
    /// The plan's top node.
    let root: [String: Any]

    /// Plans `sql` with `parameters` on `connection` (nothing runs).
    init(_ sql: String, _ parameters: [(any PostgresBindable)?] = [], on connection: Connection) throws {
        let json = try connection.query("EXPLAIN (FORMAT JSON) \(sql)", parameters)[0].require(String.self, at: 0)
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        root = document?.first?["Plan"] as? [String: Any] ?? [:]
    }

    /// The rows the planner expects the statement to return.
    var rows: Int64 { (root["Plan Rows"] as? NSNumber)?.int64Value ?? 0 }

    /// Calls `visit` with every node, the top one first.
    func walk(_ visit: ([String: Any]) -> Void) { Self.walk(root, visit) }

    private static func walk(_ node: [String: Any], _ visit: ([String: Any]) -> Void) {
        visit(node)
        for child in node["Plans"] as? [[String: Any]] ?? [] { walk(child, visit) }
    }
}
