import Foundation
import ObjectStore
import Testing
import TestSupport

/// The dashboard's panels and the alert rules against a real Prometheus scraping a running
/// `pgsweep daemon`: every panel's query returns series with the labels its legend names, and
/// every rule's expression evaluates and every metric it reads has series.
@Suite("Dashboard and alert rules")
struct DashboardTests {
    /// `/api/v1/query` for `expression`: the result's label sets, or nil when the query failed.
    static func query(_ expression: String, prometheus: TestPrometheus, client: HTTPClient) throws -> [[String: String]]? {
        let response = try client.send(HTTPRequest(method: "GET", origin: prometheus.origin, path: "/api/v1/query", query: [("query", expression)]))
        guard response.status == 200, let document = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            document["status"] as? String == "success", let data = document["data"] as? [String: Any]
        else { return nil }
        return (data["result"] as? [[String: Any]] ?? []).map { $0["metric"] as? [String: String] ?? [:] }
    }

    @Test("every panel query and every alert rule's metrics return series with their labels")
    func panelsAndRules() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let port = try freeLocalPort()
            let config = try RunnerTests.prepare(
                database, scratch,
                jobs: """
                      reclaim: { type: reclaim_orphans, schedule: "*/5 * * * *", batch_size: 50, throttle: { nice_ratio: 0.1 } }
                      reset: { type: reset_failed, schedule: "*/15 * * * *" }
                      archive: { type: archive, schedule: "0 3 * * *" }
                      reindex: { type: reindex, schedule: "0 4 * * 0", min_size: 1TB }
                    """,
                extra: "archive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB\nmetrics:\n  listen: 127.0.0.1:\(port)\n  cache: 1s")
            try QueueFixture.load(try database.connect(), count: 2_000)
            #expect(try CLI.run(["--config", config, "run", "--all"]).status == 0)
            let daemon = try ProcessRunner.start(RepositoryPaths.executable("pgsweep"), ["--config", config, "daemon"], environment: CLI.environment())
            defer {
                daemon.signal(SIGKILL)
                _ = try? daemon.wait()
            }
            let rules = RepositoryPaths.file("ops/prometheus/pgsweep-rules.yaml")
            let prometheus = try TestPrometheus(target: "127.0.0.1:\(port)", ruleFiles: [rules], folder: scratch.path)
            defer { prometheus.stop() }
            let client = try HTTPClient()
            // Two scrapes of the job counters, so increase() and rate() have a window.
            #expect(eventually(within: 60) {
                (try? Self.query("count_over_time(pgsweep_job_runs_total[1m]) >= 2", prometheus: prometheus, client: client))?.isEmpty == false
            }, "\(prometheus.log)")

            let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: RepositoryPaths.file("ops/grafana/pgsweep.json")))) as? [String: Any] ?? [:]
            let panels = dashboard["panels"] as? [[String: Any]] ?? []
            #expect(panels.count >= 12)
            for panel in panels {
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    let expression = (target["expr"] as? String ?? "").replacingOccurrences(of: "$flow", with: ".*")
                    let labels = (target["legendFormat"] as? String ?? "").components(separatedBy: "{{").dropFirst().compactMap { $0.components(separatedBy: "}}").first }
                    let result = try Self.query(expression, prometheus: prometheus, client: client)
                    #expect(result?.isEmpty == false, "panel \(panel["title"] ?? ""): \(expression) returned nothing")
                    for series in result ?? [] {
                        for label in labels { #expect(series[label] != nil, "panel \(panel["title"] ?? ""): \(expression) lacks \(label): \(series)") }
                    }
                }
            }

            let text = try String(contentsOfFile: rules, encoding: .utf8)
            let expressions = text.split(separator: "\n").compactMap { line -> String? in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return trimmed.hasPrefix("expr: ") ? String(trimmed.dropFirst(6)) : nil
            }
            #expect(expressions.count == 7)
            let metric = try NSRegularExpression(pattern: "pgsweep_[a-z0-9_]+")
            for expression in expressions {
                #expect(try Self.query(expression, prometheus: prometheus, client: client) != nil, "rule \(expression) does not evaluate")
                let range = NSRange(expression.startIndex..., in: expression)
                for match in metric.matches(in: expression, range: range) {
                    let name = String(expression[Range(match.range, in: expression)!])
                    let series = try Self.query(name, prometheus: prometheus, client: client) ?? []
                    #expect(!series.isEmpty && series.allSatisfy { $0["table"] == "public.processing_queue" }, "rule \(expression): \(name) has no series")
                }
            }
        }
    }
}
