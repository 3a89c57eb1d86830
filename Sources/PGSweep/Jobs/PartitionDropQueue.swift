import Foundation
import LibPQ

/// Detaches and drops copied partitions on threads and connections of their own, while the
/// archive copies the next partitions: the detaches one at a time (PostgreSQL allows one
/// unfinished detach per table), in the order given, the drops side by side.
final class PartitionDropQueue: @unchecked Sendable {
    // @unchecked Sendable: `waiting`, `failure`, `leftForLater`, `ended` and `running` are touched
    // only under `condition`; the dropper and the connection factory are Sendable, `serial` a lock.
    private let condition = NSCondition()
    private var waiting: [PartitionDropper.Pending] = []
    private var failure: (any Error)?
    private var leftForLater = false
    private var ended = false
    /// Threads not yet ended.
    private var running: Int
    /// Held by a thread while it detaches or puts back a partition.
    private let serial = NSLock()

    /// Drops at once: each waits mostly on the file system (the drop truncates every file of
    /// the partition and its indexes), so two finish the run's last drops sooner than one.
    static let threads = 2

    /// Starts the threads; each connects with `connect` on its first partition.
    init(dropper: PartitionDropper, hasDefault: Bool, connect: @escaping @Sendable () throws -> Connection) {
        running = Self.threads
        for _ in 0..<Self.threads {
            let thread = Thread { [self] in
                var connection: Connection?
                while let partition = take() {
                    do {
                        let current = try connection ?? connect()
                        connection = current
                        let finished = try dropper.finish(partition, hasDefault: hasDefault, checkRows: false, serial: serial, on: current)
                        report(nil, finished: finished)
                    } catch {
                        report(error, finished: false)
                    }
                }
                connection = nil
                condition.lock()
                running -= 1
                condition.broadcast()
                condition.unlock()
            }
            thread.name = "pgsweep-partition-drops"
            thread.start()
        }
    }

    /// True once a partition was left for the next run (or dropping failed): PostgreSQL allows
    /// one unfinished detach per table, so the run takes no more partitions whole.
    var stopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return leftForLater || failure != nil
    }

    /// Queues `partition`; throws what an earlier one met.
    func submit(_ partition: PartitionDropper.Pending) throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        waiting.append(partition)
        condition.broadcast()
    }

    /// Waits until every queued partition is handled and the threads have ended; rethrows the
    /// first error met.
    func finish() throws {
        condition.lock()
        defer { condition.unlock() }
        ended = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        if let failure { throw failure }
    }

    /// The next partition; nil once `finish` was called and none is left, or after an error
    /// or a partition left for later (the rest stay `copied` for the next run).
    private func take() -> PartitionDropper.Pending? {
        condition.lock()
        defer { condition.unlock() }
        while waiting.isEmpty && !ended && failure == nil && !leftForLater { condition.wait() }
        guard failure == nil, !leftForLater, !waiting.isEmpty else { return nil }
        return waiting.removeFirst()
    }

    private func report(_ error: (any Error)?, finished: Bool) {
        condition.lock()
        if failure == nil { failure = error }
        if !finished { leftForLater = true }
        condition.broadcast()
        condition.unlock()
    }
}
