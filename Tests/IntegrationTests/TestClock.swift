import Foundation
import LibPQ
import PGSweep

/// A clock for tests: time stands still until something waits, then jumps to the deadline
/// at once. It records every wait, and `onWait` may act between them (ask for shutdown or
/// a reload, move time on), so loops with pauses and sleeps run at full speed.
final class TestClock: Clock, @unchecked Sendable {
    // @unchecked Sendable: every stored property is read and written under `lock`.
    private let lock = NSLock()
    private var current: Date
    private var deadlines: [Date] = []
    private var hook: (@Sendable (Int, TestClock) -> Void)?

    init(_ start: Date) { current = start }

    /// Called after each wait with the number of waits so far.
    func onWait(_ hook: @escaping @Sendable (Int, TestClock) -> Void) { lock.withLock { self.hook = hook } }

    /// Every deadline waited for, in order.
    var waits: [Date] { lock.withLock { deadlines } }

    func advance(by seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }

    func now() -> Date { lock.withLock { current } }

    func reference(on connection: Connection) throws -> Date { now() }

    @discardableResult
    func wait(until deadline: Date, shutdown: Shutdown) -> Bool {
        let (count, hook) = lock.withLock {
            deadlines.append(deadline)
            current = max(current, deadline)
            return (deadlines.count, self.hook)
        }
        hook?(count, self)
        return shutdown.isRequested
    }
}
