/// Errors of pgsweep's own making (as opposed to the database's or the file system's).
public enum PGSweepError: Error, Sendable, CustomStringConvertible {
    /// The configured work-queue table does not exist.
    case tableMissing(String)
    /// The database holds a newer pgsweep schema than this build knows.
    case schemaTooNew(found: Int, known: Int)
    /// A check found problems; the report was already printed.
    case checkFailed(String)
    /// Bad command-line usage that the argument parser could not catch.
    case usage(String)
    /// pgsweep's own schema is missing or older than this build needs.
    case schemaNotApplied(found: Int, expected: Int)
    /// The archive file system has less free space than `archive.min_free_space`.
    case archiveSpace(directory: String, free: Int64, required: Int64)
    /// The configured `table` names something pgsweep must not maintain (a system catalog, a view).
    case notAQueueTable(String)
    /// A run ended because its connection to the database was lost (the message names where it pointed).
    case connectionLost(String)
    /// The table lacks columns a job needs; nothing was changed.
    case missingColumns(job: String, table: String, columns: [String])

    public var exitStatus: ExitStatus {
        switch self {
        case .usage, .notAQueueTable: return .usage
        case .connectionLost: return .databaseUnreachable
        default: return .failure
        }
    }

    public var description: String {
        switch self {
        case .tableMissing(let table):
            return "table \(table) does not exist (check `table:` in the configuration and the connection's database)"
        case .schemaTooNew(let found, let known):
            return "pgsweep schema version \(found) in the database is newer than this pgsweep knows (\(known)); upgrade pgsweep"
        case .checkFailed(let what): return what
        case .usage(let message): return message
        case .schemaNotApplied(let found, let expected):
            return found == 0
                ? "pgsweep's schema is not in the database; run `pgsweep schema apply` first"
                : "pgsweep's schema is at version \(found), this pgsweep needs \(expected); run `pgsweep schema apply`"
        case .notAQueueTable(let message), .connectionLost(let message): return message
        case .missingColumns(let job, let table, let columns):
            let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            return "job \(job) needs column\(columns.count == 1 ? "" : "s") \(list), which table \(table) does not have; nothing was changed"
        case .archiveSpace(let directory, let free, let required):
            return "archive directory \(directory) has \(ByteSize.format(free)) free, less than archive.min_free_space \(ByteSize.format(required)); nothing was archived"
        }
    }
}
