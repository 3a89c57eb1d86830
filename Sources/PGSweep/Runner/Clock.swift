import Foundation
import LibPQ

/// Where pgsweep's core gets the time and waits: batch pauses, `max_runtime`, the daemon's
/// sleep until the next fire time, its back-off. Tests give a clock of their own, so they
/// can check waits and deadlines without really waiting.
public protocol Clock: Sendable {
    /// The time now, for durations and deadlines.
    func now() -> Date
    /// The time fire times and thresholds count from, read on `connection`: the system clock
    /// asks the database, so every runner of a database agrees whatever their own clocks say.
    func reference(on connection: Connection) throws -> Date
    /// Waits until `deadline`, returning early (true) when `shutdown` asks to stop or reload.
    @discardableResult
    func wait(until deadline: Date, shutdown: Shutdown) -> Bool
}

/// The real clock: the machine's time, the database's time for references, real waits.
public struct SystemClock: Clock {
    public init() {}

    public func now() -> Date { Date() }

    public func reference(on connection: Connection) throws -> Date {
        try connection.query("SELECT clock_timestamp() AS now")[0].require(Date.self, "now")
    }

    @discardableResult
    public func wait(until deadline: Date, shutdown: Shutdown) -> Bool {
        shutdown.wait(until: deadline)
    }
}
