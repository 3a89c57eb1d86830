import Foundation
import LibPQ

/// Shutdown and reload requests from signals, shared between the signal handlers and the
/// work, which checks them at safe points (between batches, while sleeping).
public final class Shutdown: @unchecked Sendable {
    // @unchecked Sendable: every stored property is read and written under `condition`.
    private let condition = NSCondition()
    private var signal: Int32?
    private var reload = false
    private var activeStatement: CancelHandle?

    public init() {}

    /// True once SIGTERM or SIGINT arrived.
    public var isRequested: Bool { condition.withLock { signal != nil } }

    /// The signal that asked for shutdown, if any.
    public var requestedBy: Int32? { condition.withLock { signal } }

    /// Records a shutdown request and wakes anyone waiting.
    public func request(signal number: Int32) {
        condition.withLock {
            if signal == nil { signal = number }
            condition.broadcast()
        }
    }

    /// Cancels the statement running now, if the work registered one.
    public func cancelActiveStatement() {
        let handle = condition.withLock { activeStatement }
        handle?.cancel()
    }

    /// Registers the statement that `cancelActiveStatement` would cancel (nil to clear).
    public func setActiveStatement(_ handle: CancelHandle?) {
        condition.withLock { activeStatement = handle }
    }

    /// Records a reload request (SIGHUP) and wakes anyone waiting.
    public func requestReload() {
        condition.withLock {
            reload = true
            condition.broadcast()
        }
    }

    /// Returns and clears a pending reload request.
    public func takeReloadRequest() -> Bool {
        condition.withLock {
            defer { reload = false }
            return reload
        }
    }

    /// Waits until `deadline`, returning early (true) when shutdown or reload is requested.
    @discardableResult
    public func wait(until deadline: Date) -> Bool {
        condition.withLock {
            while signal == nil && !reload {
                if !condition.wait(until: deadline) { return false }
            }
            return true
        }
    }
}
