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
    }

    public var entries: [Entry] = []

    /// The exit status for the whole run: a failure wins; skipped jobs count as success.
    public var exitStatus: ExitStatus {
        entries.contains { $0.status == .failed } ? .failure : .success
    }
}
