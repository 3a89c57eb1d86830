import Dispatch
import Foundation
import PGSweep

/// Turns SIGTERM, SIGINT and SIGHUP into requests on a `Shutdown`.
///
/// The first SIGTERM or SIGINT asks the work to stop at the next batch boundary; if the
/// current statement is still running after `grace` seconds, it is cancelled (and so rolled
/// back). A second signal cancels it at once. SIGHUP asks for a configuration reload.
enum SignalWatcher {
    // nonisolated(unsafe): written once, by `install` on the main thread before any work
    // starts, and never read; it only keeps the signal sources alive for the process.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func install(_ shutdown: Shutdown, grace: TimeInterval = 5) {
        let queue = DispatchQueue(label: "pgsweep.signals")
        for number in [SIGTERM, SIGINT, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if number == SIGHUP {
                    shutdown.requestReload()
                    return
                }
                if shutdown.isRequested {
                    shutdown.cancelActiveStatement()
                    return
                }
                shutdown.request(signal: number)
                queue.asyncAfter(deadline: .now() + grace) { shutdown.cancelActiveStatement() }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The exit status for a run that a signal stopped, if one did.
    static func exitStatus(_ shutdown: Shutdown) -> ExitStatus? {
        switch shutdown.requestedBy {
        case SIGINT: return .interrupted
        case SIGTERM: return .terminated
        default: return nil
        }
    }
}
