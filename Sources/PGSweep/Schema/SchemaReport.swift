/// What `schema check` found: the table, each expected index, and pgsweep's own schema.
public struct SchemaReport: Sendable, Encodable {
    /// The state of one expected index.
    public enum IndexState: String, Sendable, Encodable {
        case valid
        case missing
        /// Present but `indisvalid` is false: a failed or running concurrent build.
        case invalid
        /// The name is taken by an index of another table.
        case wrongTable = "wrong_table"
    }

    public struct IndexStatus: Sendable, Encodable {
        public var name: String
        public var state: IndexState
    }

    public var table: String
    public var tableExists: Bool
    public var indexes: [IndexStatus]
    /// pgsweep's own schema version in the database (0 when not applied) and the current one.
    public var ownSchemaVersion: Int
    public var ownSchemaCurrentVersion: Int

    /// True when the table exists, every index is valid and pgsweep's schema is current.
    public var isHealthy: Bool {
        tableExists && indexes.allSatisfy { $0.state == .valid } && ownSchemaVersion == ownSchemaCurrentVersion
    }

    /// One line per finding, for people.
    public var lines: [String] {
        var lines: [String] = []
        lines.append("table \(table): \(tableExists ? "present" : "MISSING")")
        let width = indexes.map(\.name.count).max() ?? 0
        for index in indexes {
            let padded = index.name.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  index \(padded)  \(index.state.rawValue.uppercasedUnlessValid)")
        }
        if ownSchemaVersion == ownSchemaCurrentVersion {
            lines.append("pgsweep schema: version \(ownSchemaVersion) (current)")
        } else if ownSchemaVersion == 0 {
            lines.append("pgsweep schema: NOT APPLIED (run `pgsweep schema apply`)")
        } else {
            lines.append(
                "pgsweep schema: version \(ownSchemaVersion), this pgsweep expects \(ownSchemaCurrentVersion) (run `pgsweep schema apply`)")
        }
        return lines
    }
}

extension String {
    fileprivate var uppercasedUnlessValid: String { self == "valid" ? self : uppercased() }
}
