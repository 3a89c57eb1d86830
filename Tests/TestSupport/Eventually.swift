import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Waits for a condition with a deadline: checks it every few milliseconds until it holds
/// (returns true) or the deadline passes (returns false). Tests wait on what they need to
/// see, never on a fixed delay.
public func eventually(within seconds: TimeInterval = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        _ = poll(nil, 0, 10)  // the pause between checks, not a synchronisation
    }
}

extension RunningProcess {
    /// True once the process has exited (it is reaped by the later `wait()`).
    public var hasExited: Bool {
        var info = siginfo_t()
        // WNOWAIT leaves the child waitable, so `wait()` still collects its status.
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid
    }
}
