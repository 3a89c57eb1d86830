import LibPQ

/// The validated configuration pgsweep runs with, defaults applied.
public struct PGSweepConfig: Sendable {
    /// Where the configuration was read from.
    public var file: String
    /// How to reach the database.
    public var database: DatabaseSettings
    /// The work-queue table (`table`, default: `processing_queue`).
    public var table: QualifiedName
    /// pgsweep's own schema for its run table and ledger (`schema`, default: `pgsweep`).
    public var schema: String
    /// Where archive files go.
    public var archive: ArchiveSettings

    /// Connection settings (`database:`).
    public struct DatabaseSettings: Sendable {
        /// `url` (string, optional): a libpq conninfo string or URI, `${VAR}` expanded.
        /// When absent, libpq's defaults apply (`PGHOST`, `PGPASSWORD`, `~/.pgpass`...).
        public var url: String?
        /// `statement_timeout` (duration, default: 30s): the longest one statement may run.
        public var statementTimeout: ConfigDuration
        /// `lock_timeout` (duration, default: 5s): the longest a statement waits for a lock.
        public var lockTimeout: ConfigDuration

        public init(url: String? = nil, statementTimeout: ConfigDuration = .seconds(30), lockTimeout: ConfigDuration = .seconds(5)) {
            self.url = url
            self.statementTimeout = statementTimeout
            self.lockTimeout = lockTimeout
        }
    }

    /// Archive settings (`archive:`).
    public struct ArchiveSettings: Sendable {
        /// `directory` (path, default: `./archive`): relative paths are taken from the
        /// configuration file's folder.
        public var directory: String
        /// `compression_level` (int 1...19, default: 3): the zstd level.
        public var compressionLevel: Int

        public init(directory: String = "./archive", compressionLevel: Int = 3) {
            self.directory = directory
            self.compressionLevel = compressionLevel
        }
    }

    public init(
        file: String, database: DatabaseSettings = .init(), table: QualifiedName = .init(schema: nil, name: "processing_queue"),
        schema: String = "pgsweep", archive: ArchiveSettings = .init()
    ) {
        self.file = file
        self.database = database
        self.table = table
        self.schema = schema
        self.archive = archive
    }
}
