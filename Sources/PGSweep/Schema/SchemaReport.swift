/// What `schema check` found: the table, each expected index, the columns each configured
/// job needs, and pgsweep's own schema.
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
        /// The index doing the job under another name (same columns and predicate), if any.
        public var existing: String?

        public init(name: String, state: IndexState, existing: String? = nil) {
            self.name = name
            self.state = state
            self.existing = existing
        }

        /// The name the index really has.
        public var actualName: String { existing ?? name }

        /// `valid`, `valid (as idx_other)`, `MISSING`, `INVALID`, `WRONG_TABLE`.
        public var summary: String {
            if state == .valid { return existing.map { "valid (as \($0))" } ?? "valid" }
            return state.rawValue.uppercased()
        }
    }

    /// The columns one configured job needs and those the table lacks.
    public struct JobColumns: Sendable, Encodable {
        public var job: String
        public var needs: [String]
        public var missing: [String]
    }

    public var table: String
    public var tableExists: Bool
    public var partitioned: Bool
    public var indexes: [IndexStatus]
    public var jobColumns: [JobColumns]
    /// pgsweep's own schema version in the database (0 when not applied) and the current one.
    public var ownSchemaVersion: Int
    public var ownSchemaCurrentVersion: Int

    /// True when the table exists with every column its jobs need, every index is valid and
    /// pgsweep's schema is current.
    public var isHealthy: Bool {
        tableExists && indexes.allSatisfy { $0.state == .valid } && jobColumns.allSatisfy(\.missing.isEmpty)
            && ownSchemaVersion == ownSchemaCurrentVersion
    }

    /// One line per finding, for people.
    public var lines: [String] {
        var lines: [String] = []
        lines.append("table \(table): \(tableExists ? (partitioned ? "present (partitioned)" : "present") : "MISSING")")
        let width = indexes.map(\.name.count).max() ?? 0
        for index in indexes {
            let padded = index.name.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  index \(padded)  \(index.summary)")
        }
        for job in jobColumns where !job.needs.isEmpty {
            lines.append(
                job.missing.isEmpty
                    ? "  job \(job.job): columns present (\(job.needs.joined(separator: ", ")))"
                    : "  job \(job.job): MISSING column(s) \(job.missing.joined(separator: ", ")) (needs \(job.needs.joined(separator: ", ")))")
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
