import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `ops/s3/fault-proxy.py` between a client and the test store: relays requests and breaks
/// the one it is told to (see the script for the faults). Stopped by `stop()` or when the
/// test process ends.
public final class FaultProxy: Sendable {
    public let port: Int
    private let process: RunningProcess

    /// Starts a proxy to `127.0.0.1:upstreamPort` with `fault` (`drop:3`, `status:2:500`...).
    public init(upstreamPort: Int, fault: String) throws {
        process = try ProcessRunner.start("/usr/bin/env", ["python3", RepositoryPaths.file("ops/s3/fault-proxy.py"), String(upstreamPort), fault])
        let process = process
        guard eventually(within: 30, { process.stdoutSoFar.contains("\n") || process.hasExited }),
            let port = Int(process.stdoutSoFar.split(separator: "\n").first ?? "")
        else {
            process.signal(SIGKILL)
            throw ProcessRunnerError(message: "fault-proxy did not start: \(process.stderrSoFar)")
        }
        self.port = port
    }

    /// `http://127.0.0.1:PORT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public func stop() {
        process.signal(SIGKILL)
        _ = try? process.wait()
    }

    deinit { process.signal(SIGKILL) }
}
