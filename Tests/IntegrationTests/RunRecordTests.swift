import ArchiveFormat
import Foundation
import LibPQ
import Testing
import TestSupport

/// After any failure, the run table, `history`, the metrics and the `job finished` line say
/// exactly what committed: what the ledger holds.
@Suite("Run records")
struct RunRecordTests {
    /// Rows, bytes and batches the ledger holds for run `run`.
    static func ledger(_ connection: Connection, run: Int64) throws -> (rows: Int64, bytes: Int64, batches: Int64) {
        let row = try connection.query(
            "SELECT coalesce(sum(row_count), 0)::int8 AS rows, coalesce(sum(bytes), 0)::int8 AS bytes, count(*) AS batches FROM pgsweep.archive_batches WHERE run_id = $1",
            [run])[0]
        return (try row.require(Int64.self, "rows"), try row.require(Int64.self, "bytes"), try row.require(Int64.self, "batches"))
    }

    /// The archive job's first run: id, status, rows, bytes, batches, and whether its end is set.
    static func firstRun(_ connection: Connection) throws -> (id: Int64, status: String, rows: Int64, bytes: Int64, batches: Int64, worked: Double?) {
        let row = try connection.query(
            """
            SELECT id, status, rows_affected, bytes_written, batches::int8 AS batches,
                   extract(epoch FROM finished_at - started_at)::float8 AS worked
            FROM pgsweep.job_runs WHERE job = 'archive' ORDER BY id LIMIT 1
            """)[0]
        return (try row.require(Int64.self, "id"), try row.require(String.self, "status"), try row.require(Int64.self, "rows_affected"),
                try row.require(Int64.self, "bytes_written"), try row.require(Int64.self, "batches"), try row.decode(Double.self, "worked"))
    }

    /// The sum of `pgsweep_job_rows_total` in a metrics textfile.
    static func metricRows(_ path: String) throws -> Int64 {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("pgsweep_job_rows_total{") }
            .compactMap { Int64($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    /// The `job finished` line of `stderr` (JSON logs).
    static func finishedLine(_ stderr: String) throws -> [String: Any] {
        let line = try #require(stderr.split(separator: "\n").last { $0.contains("\"msg\":\"job finished\"") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    static func prepare(_ database: TestDatabase, _ scratch: ScratchFolder, archive: String, job: String = "") throws -> String {
        try RunnerTests.prepare(
            database, scratch,
            jobs: "  archive: { type: archive, schedule: \"0 3 * * *\", completed_before: 7d, failed_before: 30d, batch_size: 300\(job) }",
            extra: "archive:\n  directory: \(archive)\n  min_free_space: 1kB\nmetrics:\n  textfile: \(scratch.file("pgsweep.prom"))")
    }

    @Test("a run killed after 3 batches shows those 3 batches' rows and bytes, and ends at its last batch when the next runner marks it")
    func killed() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try Self.prepare(database, scratch, archive: scratch.file("archive"))
            let connection = try database.connect()
            try QueueFixture.load(connection, count: 10_000)
            let killed = try CLI.run(["--config", config, "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "batch-after-commit:3"])
            #expect(killed.status == 128 + SIGKILL)
            var run = try Self.firstRun(connection)
            let ledger = try Self.ledger(connection, run: run.id)
            #expect(ledger.batches == 3)
            #expect(run.status == "running")
            #expect(run.rows == ledger.rows && run.bytes == ledger.bytes && run.batches == 3, "\(run) vs \(ledger)")

            let next = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(next.status == 0, "\(next.all)")
            // The finishing run counts the files it wrote, not the last, empty, batch of each pass.
            let second = try connection.query("SELECT id, batches FROM pgsweep.job_runs WHERE job = 'archive' ORDER BY id DESC LIMIT 1")[0]
            #expect(try Self.ledger(connection, run: second.require(Int64.self, "id")).batches == Int64(try second.require(Int.self, "batches")))
            run = try Self.firstRun(connection)
            #expect(run.status == "interrupted")
            #expect(run.rows == ledger.rows && run.bytes == ledger.bytes)
            let lastBatch = try connection.query(
                "SELECT extract(epoch FROM max(created_at) - (SELECT started_at FROM pgsweep.job_runs WHERE id = $1))::float8 AS t FROM pgsweep.archive_batches WHERE run_id = $1",
                [run.id])[0].require(Double.self, "t")
            #expect(abs((run.worked ?? -1) - lastBatch) < 1, "worked \(run.worked ?? -1) s, last batch at \(lastBatch) s")
            let history = try CLI.run(["--config", config, "history", "--json"])
            let runs = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
            let first = try #require(runs.first { ($0["id"] as? Int).map(Int64.init) == run.id })
            #expect((first["rows_affected"] as? Int).map(Int64.init) == ledger.rows, "\(first)")
            let all = try connection.query("SELECT sum(row_count)::int8 AS n FROM pgsweep.archive_batches")[0].require(Int64.self, "n")
            #expect(try Self.metricRows(scratch.file("pgsweep.prom")) == all)
        }
    }

    @Test("a run that fills the disk after some batches records exactly what the ledger holds, in the run table, the log and the metrics")
    func diskFullAfterBatches() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let disk = try SmallDisk(at: scratch.file("archive"), size: "320k")
            defer { disk.unmount() }
            let config = try Self.prepare(database, scratch, archive: disk.path)
            let connection = try database.connect()
            try ArchiveTests.insertNoisyRows(connection)
            let output = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(output.status == 1, "\(output.all)")
            #expect(output.stderr.contains("No space left on device"), "\(output.stderr)")
            let run = try Self.firstRun(connection)
            let ledger = try Self.ledger(connection, run: run.id)
            #expect(ledger.batches >= 2, "the disk should hold a few batches first")
            #expect(run.status == "failed")
            #expect(run.rows == ledger.rows && run.bytes == ledger.bytes && run.batches == ledger.batches, "\(run) vs \(ledger)")
            let line = try Self.finishedLine(output.stderr)
            #expect((line["rows"] as? Int).map(Int64.init) == ledger.rows, "\(line)")
            #expect((line["bytes"] as? Int).map(Int64.init) == ledger.bytes, "\(line)")
            #expect(line["level"] as? String == "error")
            #expect(try Self.metricRows(scratch.file("pgsweep.prom")) == ledger.rows)
            #expect(try connection.query("SELECT count(*) AS n FROM processing_queue")[0].require(Int64.self, "n") == 20_000 - ledger.rows)
        }
    }

    /// A database with 10,000 fixture rows and an archive job that pauses between batches.
    static func prepareSlowArchive(_ database: TestDatabase, _ scratch: ScratchFolder) throws -> (config: String, connection: Connection) {
        let config = try Self.prepare(database, scratch, archive: scratch.file("archive"), job: ", pause: 200ms")
        let connection = try database.connect()
        try QueueFixture.load(connection, count: 10_000)
        return (config, connection)
    }

    /// Starts an archive run that pauses between batches, and waits until two have committed.
    static func startSlowArchive(_ config: String, _ connection: Connection) throws -> RunningProcess {
        let process = try ProcessRunner.start(
            RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "run", "archive"],
            environment: CLI.environment())
        let started = try eventually(within: 60) {
            try connection.query("SELECT count(*) AS n FROM pgsweep.archive_batches")[0].require(Int64.self, "n") >= 2
        }
        #expect(started)
        return process
    }

    @Test("a lost connection exits 3 naming host, port, database and user; the run's row is finished by the process with what committed")
    func lostConnection() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let (config, connection) = try Self.prepareSlowArchive(database, scratch)
            let process = try Self.startSlowArchive(config, connection)
            try connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgsweep' AND datname = $1",
                [database.name])
            let output = try process.wait()
            #expect(output.status == 3, "\(output.all)")
            let endpoint = "port=\(database.cluster.port) dbname=\(database.name) user=postgres"
            #expect(
                output.stderr.contains("pgsweep: job archive: lost the connection to PostgreSQL (host=\(database.cluster.socketDirectory) \(endpoint))"),
                "\(output.stderr)")
            let run = try Self.firstRun(connection)
            let ledger = try Self.ledger(connection, run: run.id)
            #expect(run.status == "failed", "finished by the process itself")
            #expect(run.rows == ledger.rows && run.bytes == ledger.bytes, "\(run) vs \(ledger)")
            let line = try Self.finishedLine(output.stderr)
            #expect((line["rows"] as? Int).map(Int64.init) == ledger.rows, "\(line)")
        }
    }

    @Test("when the database refuses the reconnection too, the next runner marks the run interrupted at its last committed batch")
    func lostConnectionForGood() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let (config, connection) = try Self.prepareSlowArchive(database, scratch)
            let admin = try database.cluster.connect()
            let process = try Self.startSlowArchive(config, connection)
            try admin.execute("ALTER DATABASE \(quoteIdentifier(database.name)) WITH ALLOW_CONNECTIONS false")
            try admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgsweep' AND datname = $1",
                [database.name])
            let output = try process.wait()
            try admin.execute("ALTER DATABASE \(quoteIdentifier(database.name)) WITH ALLOW_CONNECTIONS true")
            #expect(output.status == 3, "\(output.all)")
            #expect(output.stderr.contains("the next runner of this job will mark it interrupted"), "\(output.stderr)")
            var run = try Self.firstRun(connection)
            let ledger = try Self.ledger(connection, run: run.id)
            #expect(run.status == "running")
            #expect(run.rows == ledger.rows && run.bytes == ledger.bytes)
            #expect(try CLI.run(["--config", config, "run", "archive"]).status == 0)
            run = try Self.firstRun(connection)
            #expect(run.status == "interrupted")
            let last = try connection.query(
                "SELECT extract(epoch FROM max(created_at) - (SELECT started_at FROM pgsweep.job_runs WHERE id = $1))::float8 AS t FROM pgsweep.archive_batches WHERE run_id = $1",
                [run.id])[0].require(Double.self, "t")
            #expect(abs((run.worked ?? -1) - last) < 1, "worked \(run.worked ?? -1) s, last batch at \(last) s")
        }
    }
}
