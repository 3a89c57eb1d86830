import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real Prometheus (Debian's `prometheus`) on loopback for one test: scrapes `target`
/// every second, loads `ruleFiles`, keeps its data in a scratch folder. `stop()` ends it.
public final class TestPrometheus: Sendable {
    public let port: Int
    private let process: RunningProcess

    public init(target: String, ruleFiles: [String], folder: String) throws {
        port = try freeLocalPort()
        let config = """
            global: { scrape_interval: 1s, evaluation_interval: 1s }
            rule_files: [\(ruleFiles.map { "\"\($0)\"" }.joined(separator: ", "))]
            scrape_configs:
              - job_name: pgsweep
                static_configs: [{ targets: ["\(target)"] }]
            """
        try config.write(toFile: "\(folder)/prometheus.yml", atomically: true, encoding: .utf8)
        process = try ProcessRunner.start("/usr/bin/prometheus", [
            "--config.file=\(folder)/prometheus.yml", "--storage.tsdb.path=\(folder)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ])
    }

    /// `http://127.0.0.1:PORT`.
    public var origin: String { "http://127.0.0.1:\(port)" }

    /// What it has logged so far.
    public var log: String { process.stderrSoFar }

    public func stop() {
        process.signal(SIGKILL)
        _ = try? process.wait()
    }
}
