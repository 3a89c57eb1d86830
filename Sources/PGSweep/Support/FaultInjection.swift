import Foundation

/// Crash points for fault tests: with `PGSWEEP_CRASH_AT=<point>` (or `<point>:<n>` for the
/// n-th time the point is reached) in the environment, the process kills itself with
/// SIGKILL there; with `PGSWEEP_STOP_AT` instead, it stops itself with SIGSTOP (a test then
/// changes the database and sends SIGCONT). Without the variables, nothing happens.
///
/// Points: `archive-mid-stream`, `archive-after-fsync`, `archive-between-files` (data file
/// named, manifest not yet), `archive-after-rename`, `archive-after-ledger`, `batch-after-commit`;
/// whole partitions: `partition-before-freeze`, `partition-after-files`, `partition-after-ledger`,
/// `partition-after-commit`, `partition-after-detach`, `partition-before-drop`.
public enum FaultInjection {
    private static func target(_ variable: String) -> (point: String, count: Int)? {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return nil }
        let parts = value.split(separator: ":", maxSplits: 1)
        return (String(parts[0]), parts.count == 2 ? Int(parts[1]) ?? 1 : 1)
    }
    private static let crash = target("PGSWEEP_CRASH_AT")
    private static let stop = target("PGSWEEP_STOP_AT")
    // nonisolated(unsafe): read and written only under `lock`.
    nonisolated(unsafe) private static var reached: [String: Int] = [:]
    private static let lock = NSLock()

    /// Kills (or stops) the process if `point` is the configured point and its count is reached.
    public static func point(_ point: String) {
        guard crash?.point == point || stop?.point == point else { return }
        let count = lock.withLock {
            reached[point, default: 0] += 1
            return reached[point]!
        }
        if let crash, crash.point == point, count == crash.count { kill(getpid(), SIGKILL) }
        if let stop, stop.point == point, count == stop.count { raise(SIGSTOP) }  // this thread first, before it goes on
    }
}
