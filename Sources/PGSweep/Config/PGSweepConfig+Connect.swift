import LibPQ
import Logging

extension PGSweepConfig {
    /// A new connection to the configured database, its session set to the configured
    /// statement and lock timeouts.
    public func connect(logger: Logger) throws -> Connection {
        let connection = try Connection(conninfo: database.url, logger: logger)
        try connection.set(
            [("statement_timeout", database.statementTimeout.postgresSetting), ("lock_timeout", database.lockTimeout.postgresSetting)],
            for: .session)
        return connection
    }
}
