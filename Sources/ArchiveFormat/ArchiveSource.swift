/// Where archived rows came from: one database (PostgreSQL's system identifier, which tells
/// clusters apart, and the database's name, which tells databases of one cluster apart) and
/// one schema-qualified table.
///
/// Every archive file, manifest and ledger row names its source, and files live under a
/// folder made from it, so many databases and tables can share one archive folder without
/// ever mistaking each other's files for their own.
public struct ArchiveSource: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The cluster's system identifier (`pg_control_system()`), as an unsigned decimal.
    public var systemIdentifier: String
    /// The database's name.
    public var database: String
    /// The table's schema.
    public var schema: String
    /// The table's own name.
    public var table: String

    public init(systemIdentifier: String, database: String, schema: String, table: String) {
        self.systemIdentifier = systemIdentifier
        self.database = database
        self.schema = schema
        self.table = table
    }

    enum CodingKeys: String, CodingKey {
        case systemIdentifier = "system_identifier", database, schema, table
    }

    /// `app (system 7714303108876617977), table public.processing_queue`.
    public var description: String { "database \(database) (system \(systemIdentifier)), table \(schema).\(table)" }

    /// The folder, relative to the archive root, that holds this source's files:
    /// `<database>-<system identifier>/<schema>.<table>`. Each name is encoded so that
    /// different sources never share a folder (see `ArchivePaths.component`).
    public var folder: String {
        "\(ArchivePaths.component(database))-\(systemIdentifier)/\(ArchivePaths.component(schema)).\(ArchivePaths.component(table))"
    }
}
