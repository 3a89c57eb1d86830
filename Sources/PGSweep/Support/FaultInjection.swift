import Foundation

/// Crash points for fault tests: with `PGSWEEP_CRASH_AT=<point>` (or `<point>:<n>` for the
/// n-th time the point is reached) in the environment, the process kills itself with
/// SIGKILL there. Without the variable, nothing happens.
///
/// Points: `archive-mid-stream`, `archive-after-fsync`, `archive-between-files` (data file
/// named, manifest not yet), `archive-after-rename`, `archive-after-ledger`, `batch-after-commit`;
/// whole partitions: `partition-after-files`, `partition-after-ledger`, `partition-after-commit`,
/// `partition-after-detach`, `partition-before-drop`.
public enum FaultInjection {
    private static let target: (point: String, count: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["PGSWEEP_CRASH_AT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: ":", maxSplits: 1)
        return (String(parts[0]), parts.count == 2 ? Int(parts[1]) ?? 1 : 1)
    }()
    // nonisolated(unsafe): read and written only under `lock`.
    nonisolated(unsafe) private static var reached: [String: Int] = [:]
    private static let lock = NSLock()

    /// Kills the process if `point` is the configured crash point (and its count is reached).
    public static func point(_ point: String) {
        guard let target, target.point == point else { return }
        let count = lock.withLock {
            reached[point, default: 0] += 1
            return reached[point]!
        }
        if count == target.count { kill(getpid(), SIGKILL) }
    }
}
