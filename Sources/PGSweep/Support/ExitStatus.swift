import LibPQ
import Zstd
import ArchiveFormat

/// pgsweep's documented exit codes.
public enum ExitStatus: Int32, Sendable {
    /// Every job that ran succeeded (a job skipped because another runner holds it counts).
    case success = 0
    /// A job or check failed.
    case failure = 1
    /// Bad usage or bad configuration.
    case usage = 2
    /// The database could not be reached.
    case databaseUnreachable = 3
    /// `archive verify` or `restore` found damaged or missing archive data.
    case archiveDamaged = 4
    /// Stopped by SIGINT after the current batch finished.
    case interrupted = 130
    /// Stopped by SIGTERM after the current batch finished.
    case terminated = 143

    /// The exit status for an error that ended a command.
    public init(for error: any Error) {
        switch error {
        case is ConfigError: self = .usage
        case let error as PostgresError where error.isConnectionLost: self = .databaseUnreachable
        case let error as PGSweepError: self = error.exitStatus
        case is ZstdError, is ArchiveDamage: self = .archiveDamaged
        case let error as ArchiveError:
            if case .io = error.kind { self = .failure } else { self = .archiveDamaged }
        default: self = .failure
        }
    }
}
