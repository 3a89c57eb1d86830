import ArchiveFormat
import Foundation
import LibPQ
import Logging
import Prometheus

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Exports job metrics of one work-queue table after each run, to a node-exporter textfile
/// and/or a Pushgateway. Every series carries a `table` label: several tables (and
/// configurations) may share pgsweep's schema and one Pushgateway.
///
/// Values come from pgsweep's tables, not from this process's memory: a CronJob starts a new
/// process every few minutes, and several runners may share one database, so only the
/// database knows the totals. Counters come from `job_totals`/`job_row_totals`, which are
/// never pruned, so they only go up.
public struct MetricsExporter {
    public let settings: PGSweepConfig.MetricsSettings
    public let schema: String
    /// The table whose jobs are exported.
    public let table: QualifiedName
    public let logger: Logger
    /// The queue's gauges, exported beside the job counters when set.
    var queueGauges: QueueGauges?
    /// The configured jobs and the throttle signals each can be paused by: their counters are
    /// exported at 0 before they first move, so `rate()` and the dashboard have a series.
    var configuredJobs: [(job: String, signals: [String])] = []

    /// An exporter for the jobs of `table` (resolved, schema-qualified).
    public init(settings: PGSweepConfig.MetricsSettings, schema: String, table: QualifiedName, logger: Logger) {
        self.settings = settings
        self.schema = schema
        self.table = table
        self.logger = logger
    }

    /// Writes and pushes the metrics of `config`'s table as configured, on a connection from
    /// `connect`; does nothing when no output is configured. Failures are logged, never thrown:
    /// metrics never fail a run.
    public static func export(config: PGSweepConfig, logger: Logger, connect: () throws -> Connection) {
        guard config.metrics.textfile != nil || config.metrics.pushgateway != nil else { return }
        do {
            let connection = try connect()
            let table = try QueueTable.resolve(config.table, on: connection).name
            var exporter = MetricsExporter(settings: config.metrics, schema: config.schema, table: table, logger: logger)
            exporter.queueGauges = QueueGauges(config: config)
            exporter.configuredJobs = config.jobs.map { ($0.name, $0.limits.throttle.signalNames) }
            exporter.export(using: connection)
        } catch {
            logger.error("could not export metrics", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// The whole exposition of `config`'s table, job counters and queue gauges, in the
    /// Prometheus text format (`pgsweep metrics`).
    public static func exposition(config: PGSweepConfig, logger: Logger, on connection: Connection) throws -> String {
        let table = try QueueTable.resolve(config.table, on: connection).name
        var exporter = MetricsExporter(settings: config.metrics, schema: config.schema, table: table, logger: logger)
        exporter.queueGauges = QueueGauges(config: config)
        exporter.configuredJobs = config.jobs.map { ($0.name, $0.limits.throttle.signalNames) }
        return render(try exporter.read(using: connection))
    }

    /// True when there is somewhere to export to.
    public var isConfigured: Bool { settings.textfile != nil || settings.pushgateway != nil }

    /// Reads the totals and exports them; failures are logged, never thrown.
    public func export(using connection: Connection) {
        guard isConfigured else { return }
        let samples: [Sample]
        do {
            samples = try read(using: connection)
        } catch {
            logger.error("could not read metrics from the database", metadata: [LogKey.error: "\(error)"])
            return
        }
        if let path = settings.textfile {
            do {
                try writeAtomically(Self.render(samples), to: path)
            } catch {
                logger.error("could not write the metrics textfile", metadata: [LogKey.path: .string(path), LogKey.error: "\(error)"])
            }
        }
        if let gateway = settings.pushgateway {
            // One group per job and table (`/metrics/job/<job>/table@base64/<table>`): the
            // Pushgateway sets the grouping key's labels on everything in a group, so each
            // group must be one job's of one table.
            for job in Set(samples.map(\.job)).sorted() {
                do {
                    try push(Self.render(samples.filter { $0.job == job }), to: gateway, job: job)
                } catch {
                    logger.warning("could not push metrics; the run itself is unaffected",
                                   metadata: [LogKey.pushgateway: .string(gateway), LogKey.job: .string(job), LogKey.error: "\(error)"])
                    break
                }
            }
        }
    }

    /// One value of one metric.
    struct Sample {
        enum Kind { case counter, gauge }
        var kind: Kind
        var descriptor: MetricNameDescriptor
        var job: String
        var labels: [(String, String)]
        var value: Double
    }

    /// The current values, from pgsweep's tables: this table's rows, and rows from before
    /// pgsweep recorded tables (schema version 1), which can only have been one table's.
    func read(using connection: Connection) throws -> [Sample] {
        var samples: [Sample] = try queueGauges?.read(table: table, on: connection) ?? []
        let key = table.quoted
        let label = ("table", table.unambiguous)
        // Counters, each from its totals table: (table, the label's column and name, the summed column).
        let counters: [(MetricNameDescriptor, String, column: String, label: String, sum: String)] = [
            (MetricName.jobRuns, "job_totals", "status", "status", "runs"),
            (MetricName.rows, "job_row_totals", "action", "action", "rows"),
            (MetricName.throttled, "job_throttle_totals", "signal", "reason", "seconds"),
        ]
        // Series every configured job has from its first export: runs by final status, and
        // seconds paused by each signal it reads.
        let zeros: [String: [(String, String)]] = [
            "job_totals": configuredJobs.flatMap { job in
                [RunStatus.succeeded, .failed, .interrupted, .skipped, .throttled].map { (job.job, $0.rawValue) }
            },
            "job_throttle_totals": configuredJobs.flatMap { job in job.signals.map { (job.job, $0) } },
        ]
        for (descriptor, name, column, labelName, sum) in counters {
            let totals = QualifiedName(schema: schema, name: name).quoted
            var seen = Set<String>()
            for row in try connection.query(
                "SELECT job, \(column) AS label, sum(\(sum))::float8 AS value FROM \(totals) WHERE table_name IN ($1, '') GROUP BY 1, 2 ORDER BY 1, 2",
                [key])
            {
                let job = try row.require(String.self, "job")
                let value = try row.require(String.self, "label")
                seen.insert("\(job)\u{0}\(value)")
                samples.append(Sample(
                    kind: .counter, descriptor: descriptor, job: job,
                    labels: [("job", job), label, (labelName, value)],
                    value: try row.require(Double.self, "value")))
            }
            for (job, value) in zeros[name] ?? [] where seen.insert("\(job)\u{0}\(value)").inserted {
                samples.append(Sample(kind: .counter, descriptor: descriptor, job: job, labels: [("job", job), label, (labelName, value)], value: 0))
            }
        }
        let runs = QualifiedName(schema: schema, name: "job_runs").quoted
        let latest = try connection.query(
            """
            SELECT job,
                   extract(epoch FROM max(finished_at) FILTER (WHERE status = 'succeeded'))::float8 AS last_success,
                   (array_agg(extract(epoch FROM finished_at - started_at)::float8 ORDER BY finished_at DESC)
                        FILTER (WHERE status IN ('succeeded', 'failed', 'interrupted')))[1] AS duration
            FROM \(runs) WHERE finished_at IS NOT NULL AND (table_name = $1 OR table_name IS NULL) GROUP BY job ORDER BY job
            """, [key])
        for row in latest {
            let job = try row.require(String.self, "job")
            if let success = try row.decode(Double.self, "last_success") {
                samples.append(Sample(kind: .gauge, descriptor: MetricName.lastSuccess, job: job, labels: [("job", job), label], value: success))
            }
            if let duration = try row.decode(Double.self, "duration") {
                samples.append(Sample(kind: .gauge, descriptor: MetricName.duration, job: job, labels: [("job", job), label], value: duration))
            }
        }
        return samples
    }

    /// `samples` in the Prometheus text format.
    static func render(_ samples: [Sample]) -> String {
        let registry = PrometheusCollectorRegistry()
        for sample in samples {
            switch sample.kind {
            case .counter:
                let counter = registry.makeCounter(descriptor: sample.descriptor, labels: sample.labels)
                // Whole counts print as integers; seconds keep their fraction.
                if sample.value == sample.value.rounded() { counter.increment(by: Int64(sample.value)) } else { counter.increment(by: sample.value) }
            case .gauge:
                registry.makeGauge(descriptor: sample.descriptor, labels: sample.labels).set(sample.value)
            }
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        return text.isEmpty || text.hasSuffix("\n") ? text : text + "\n"
    }

    /// Writes `text` to a temporary file beside `path`, fsyncs it and renames it into place,
    /// so a scraper never reads half a file.
    func writeAtomically(_ text: String, to path: String) throws {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw MetricsError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        try Array(text.utf8).withUnsafeBytes { try DurableFiles.writeAll(fd, $0, path: temporary) }
        guard fsync(fd) == 0 else { throw MetricsError("cannot fsync \(temporary): \(String(cString: strerror(errno)))") }
        guard rename(temporary, path) == 0 else {
            throw MetricsError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
        ok = true
    }

    /// Replaces the group of `job` of this table on the Pushgateway with `text` (HTTP PUT).
    func push(_ text: String, to gateway: String, job: String) throws {
        let encoded = job.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? job
        // Base64url (the Pushgateway's `@base64` form) carries any table name, slashes included.
        let table = Data(table.unambiguous.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        guard let url = URL(string: "\(gateway)/metrics/job/\(encoded)/table@base64/\(table)") else {
            throw MetricsError("bad Pushgateway URL")
        }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = "PUT"
        request.setValue("text/plain; version=0.0.4", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(text.utf8)
        let outcome = PushOutcome()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { _, response, error in
            outcome.set(status: (response as? HTTPURLResponse)?.statusCode, error: error.map { "\($0.localizedDescription)" })
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + 15) == .success else { throw MetricsError("no answer within 15 s") }
        let (status, error) = outcome.get()
        if let error { throw MetricsError(error) }
        guard let status, (200..<300).contains(status) else { throw MetricsError("HTTP status \(status.map(String.init) ?? "none")") }
    }
}

/// A metrics export that failed.
struct MetricsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The result of a push, handed from URLSession's queue to the waiting thread.
private final class PushOutcome: @unchecked Sendable {
    // @unchecked Sendable: both fields are only touched under `lock`.
    private let lock = NSLock()
    private var status: Int?
    private var error: String?

    func set(status: Int?, error: String?) {
        lock.withLock {
            self.status = status
            self.error = error
        }
    }

    func get() -> (Int?, String?) { lock.withLock { (status, error) } }
}
