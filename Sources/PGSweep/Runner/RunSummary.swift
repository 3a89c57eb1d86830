import Foundation

/// What one `run` (or one daemon cycle) did, job by job.
public struct RunSummary: Sendable {
    public struct Entry: Sendable {
        public var job: String
        public var status: RunStatus
        public var runID: Int64?
        public var result: JobResult
        public var error: String?
        public var duration: TimeInterval
        /// True when the run ended because the connection to the database was lost.
        public var connectionLost = false
    }

    public var entries: [Entry] = []

    /// The exit status for the whole run: a lost connection (3) wins, then a failure (1);
    /// skipped jobs count as success.
    public var exitStatus: ExitStatus {
        if entries.contains(where: \.connectionLost) { return .databaseUnreachable }
        return entries.contains { $0.status == .failed } ? .failure : .success
    }
}
