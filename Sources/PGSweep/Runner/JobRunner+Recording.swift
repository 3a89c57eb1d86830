import Foundation
import LibPQ
import Logging

extension JobRunner {
    /// Ends run `runID` in `job_runs` and returns what its batches recorded. When the control
    /// connection is gone (a server restart ends every session), tries once more on a new
    /// connection; when that fails too, the row stays `running` and the next runner of the
    /// job marks it interrupted, ending it at its last committed batch. Returns nil then.
    func finish(
        _ runID: Int64, job: JobDefinition, status: RunStatus, error: String?, details: [String: String], store: RunStore,
        logger: Logger, throttled: [String: Double] = [:], endedBy: String? = nil
    ) -> RunCounts? {
        do {
            return try store.finish(
                id: runID, job: job.name, status: status, error: error, details: details, throttled: throttled, endedBy: endedBy)
        } catch let first as PostgresError where first.isConnectionLost {
            do {
                let connection = try connect()
                defer { connection.close() }
                let again = RunStore(connection: connection, schema: store.schema, tableKey: store.tableKey)
                return try again.finish(
                    id: runID, job: job.name, status: status, error: error, details: details, throttled: throttled, endedBy: endedBy)
            } catch {
                logger.error(
                    "could not record the end of the run; the next runner of this job will mark it interrupted",
                    metadata: [LogKey.error: "\(error)"])
                return nil
            }
        } catch {
            logger.error("could not record the end of the run", metadata: [LogKey.error: "\(error)"])
            return nil
        }
    }

    /// The one summary line per job run: at `error` level when the run ended with an error,
    /// `warning` when it was interrupted, `info` otherwise.
    func logSummary(
        _ logger: Logger, status: RunStatus, result: JobResult, error: String?, duration: TimeInterval, dryRun: Bool = false
    ) {
        var metadata: Logger.Metadata = [
            LogKey.status: .string(status.rawValue), LogKey.rows: .stringConvertible(result.totalRows),
            LogKey.bytes: .stringConvertible(result.bytesWritten), LogKey.batches: .stringConvertible(result.batches),
            LogKey.durationMilliseconds: .stringConvertible(Int(duration * 1000)),
        ]
        for (action, count) in result.rows { metadata[LogKey.rows(action)] = .stringConvertible(count) }
        for (key, value) in result.details { metadata[LogKey.detail(key)] = .string(value) }
        if let error { metadata[LogKey.error] = .string(error) }
        if dryRun { metadata[LogKey.dryRun] = "true" }
        let level: Logger.Level = error != nil ? .error : (status == .interrupted ? .warning : .info)
        logger.log(level: level, "job finished", metadata: metadata)
    }
}
