import Foundation
import LibPQ
import Logging
import PGSweep
import Synchronization

/// What every command needs: the validated configuration, a logger, and a way to connect.
struct CommandContext {
    let config: PGSweepConfig
    let logger: Logger

    /// Loads the configuration (exit 2 on any problem, before any connection is tried) and
    /// sets up logging.
    init(options: GlobalOptions) throws {
        let environment = ProcessInfo.processInfo.environment
        let format: LogFormat =
            options.logFormat.flatMap { LogFormat(rawValue: $0.rawValue) }
            ?? (isatty(STDOUT_FILENO) == 1 ? .text : .json)
        LoggingBootstrap.once(format: format)
        logger = Logger(label: "pgsweep")
        config = try ConfigLoader.load(
            path: ConfigLoader.resolvePath(options.config, environment: environment), environment: environment)
    }

    /// The message for a job name the configuration does not have.
    func unknownJobMessage(_ name: String) -> String {
        "no job named \(name.debugDescription) in \(config.file)" + Spelling.hint(for: name, in: config.jobs.map(\.name))
    }

    /// Writes and pushes metrics as configured; failures are logged, never fatal.
    func exportMetrics() {
        MetricsExporter.export(config: config, logger: logger, connect: connect)
    }

    /// The schema manager for the configured table, schema and jobs.
    var schemaManager: SchemaManager { SchemaManager(config: config, logger: logger) }

    /// A connection with the configured statement and lock timeouts.
    func connect() throws -> Connection { try config.connect(logger: logger) }
}

/// Installs pgsweep's log handler for the process, once.
enum LoggingBootstrap {
    private static let done = Mutex(false)

    static func once(format: LogFormat) {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format) }
    }
}
