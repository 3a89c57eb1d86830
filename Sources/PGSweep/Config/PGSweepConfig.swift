import Foundation
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
    public var archive: ArchiveStorage
    /// `timezone` (IANA name, default: UTC): the zone cron schedules are read in.
    public var timeZone: TimeZone
    /// The time zone's name as configured (Foundation may report `UTC` as `GMT`).
    public var timeZoneName: String = "UTC"
    /// Where metrics go after every run.
    public var metrics: MetricsSettings
    /// `history_retention` (duration, default: 30d): runs older than this are pruned from
    /// `job_runs`, so the run table stays bounded.
    public var historyRetention: ConfigDuration
    /// The jobs, in the order the file lists them.
    public var jobs: [JobDefinition]

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

    /// Metrics settings (`metrics:`).
    public struct MetricsSettings: Sendable {
        /// `textfile` (path, optional): written atomically after every run, for the node
        /// exporter's textfile collector.
        public var textfile: String?
        /// `pushgateway` (URL, optional): a Prometheus Pushgateway to push to after every run;
        /// a failed push is logged and does not fail the run.
        public var pushgateway: String?
        /// `listen` (`host:port`, optional): the daemon serves `GET /metrics` and `GET /healthz`
        /// there, e.g. `127.0.0.1:9187`.
        public var listen: (host: String, port: Int)?
        /// `cache` (duration, default: 15s): a scrape within this long of the last one gets
        /// the same answer, so many scrapers cost one read.
        public var cache: ConfigDuration = .seconds(15)

        public init(textfile: String? = nil, pushgateway: String? = nil) {
            self.textfile = textfile
            self.pushgateway = pushgateway
        }
    }

    /// Archive settings (`archive:`).
    public struct ArchiveStorage: Sendable {
        /// `directory` (path, default: `./archive`): relative paths are taken from the
        /// configuration file's folder.
        public var directory: String
        /// `s3` (mapping, default: none): archives go to an S3-compatible store instead of
        /// `directory`; see `S3Settings`.
        public var s3: S3Settings?
        /// `compression_level` (int 1...19, default: 3): the zstd level.
        public var compressionLevel: Int

        /// `min_free_space` (size, default: 1GB): an archive run refuses to start when the
        /// archive file system has less free space than this.
        public var minFreeSpace: Int64

        /// `partitions` (`whole` or `rows`, default: `whole`): on a partitioned table, whether
        /// the archive job takes an old partition whose every row is archivable whole (copy
        /// out, detach, drop) or always row by row.
        public var partitions: PartitionMode = .whole

        /// How the archive job treats a partition whose every row is archivable.
        public enum PartitionMode: String, Sendable {
            case whole, rows
        }

        public init(directory: String = "./archive", compressionLevel: Int = 3, minFreeSpace: Int64 = 1 << 30) {
            self.directory = directory
            self.compressionLevel = compressionLevel
            self.minFreeSpace = minFreeSpace
        }
    }

    public init(
        file: String, database: DatabaseSettings = .init(), table: QualifiedName = .init(schema: nil, name: "processing_queue"),
        schema: String = "pgsweep", archive: ArchiveStorage = .init(), timeZone: TimeZone = TimeZone(identifier: "UTC")!,
        metrics: MetricsSettings = .init(), historyRetention: ConfigDuration = .seconds(30 * 86_400), jobs: [JobDefinition] = []
    ) {
        self.file = file
        self.database = database
        self.table = table
        self.schema = schema
        self.archive = archive
        self.timeZone = timeZone
        self.metrics = metrics
        self.historyRetention = historyRetention
        self.jobs = jobs
    }

    /// The job called `name`, if any.
    public func job(named name: String) -> JobDefinition? { jobs.first { $0.name == name } }
}
