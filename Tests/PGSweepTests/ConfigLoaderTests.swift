import LibPQ
import PGSweep
import Testing

@Suite("Reading jobs.yaml")
struct ConfigLoaderTests {
    func parse(_ text: String, environment: [String: String] = [:]) throws -> PGSweepConfig {
        try ConfigLoader.parse(text, file: "/etc/pgsweep/jobs.yaml", environment: environment)
    }

    func issues(_ text: String, environment: [String: String] = [:]) -> [String] {
        do {
            _ = try parse(text, environment: environment)
            return []
        } catch let error as ConfigError {
            return error.issues.map(\.description)
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test("defaults apply when keys are absent")
    func defaults() throws {
        let config = try parse("jobs: {}")
        #expect(config.database.url == nil)
        #expect(config.database.statementTimeout == .seconds(30))
        #expect(config.database.lockTimeout == .seconds(5))
        #expect(config.table == QualifiedName(schema: nil, name: "processing_queue"))
        #expect(config.schema == "pgsweep")
        #expect(config.archive.directory == "/etc/pgsweep/archive")
        #expect(config.archive.compressionLevel == 3)
    }

    @Test("throttle: safe defaults, defaults' keys for every job, a job's own keys override one by one, off turns a signal off")
    func throttle() throws {
        let config = try parse(
            """
            defaults:
              throttle: { check_interval: 1s, max_replica_lag: 10s, max_wal_rate: 20MB/s }
            jobs:
              plain: { type: archive, schedule: "@daily" }
              nice: { type: archive, schedule: "@daily", throttle: { max_replica_lag: off, nice_ratio: 0.5, query: "SELECT false" } }
            """)
        let plain = try #require(config.jobs.first { $0.name == "plain" }).limits.throttle
        let nice = try #require(config.jobs.first { $0.name == "nice" }).limits.throttle
        #expect(plain.checkInterval == .seconds(1) && nice.checkInterval == .seconds(1))
        #expect(plain.maxReplicaLag == .seconds(10))
        #expect(nice.maxReplicaLag == nil)
        #expect(plain.maxWalRate == 20 << 20 && nice.maxWalRate == 20 << 20)
        #expect(plain.niceRatio == 0 && nice.niceRatio == 0.5)
        #expect(plain.query == nil && nice.query == "SELECT false")
        let defaults = ThrottleSettings()
        #expect(defaults.maxReplicaLag == .seconds(30) && defaults.maxReplicaLagBytes == 1 << 30)
        #expect(defaults.minSlotSafeWalSize == .automatic && defaults.maxArchiveBacklog == 128)
        #expect(defaults.maxWalRate == nil && defaults.maxActiveSessions == nil && defaults.niceRatio == 0 && defaults.query == nil)
        #expect(issues("defaults:\n  throttle: { nice_ratio: -1, max_replica_lag: soon, check_intervall: 1s }\njobs: {}") == [
            "/etc/pgsweep/jobs.yaml:2:27: defaults.throttle.nice_ratio: expected a number of 0 or more, like 0.5, got \"-1\"",
            "/etc/pgsweep/jobs.yaml:2:48: defaults.throttle.max_replica_lag: expected a duration like 7d, got \"soon\"",
            "/etc/pgsweep/jobs.yaml:2:54: defaults.throttle.check_intervall: unknown key \"check_intervall\"; did you mean \"check_interval\"?",
        ])
    }

    @Test("relative paths start at the configuration file's folder: the archive and the metrics textfile")
    func relativePaths() throws {
        let config = try parse("archive:\n  directory: data/archive\nmetrics:\n  textfile: ../metrics/pgsweep.prom\njobs: {}")
        #expect(config.archive.directory == "/etc/pgsweep/data/archive")
        #expect(config.metrics.textfile == "/etc/metrics/pgsweep.prom")
        let absolute = try parse("metrics:\n  textfile: /var/lib/node_exporter/pgsweep.prom\njobs: {}")
        #expect(absolute.metrics.textfile == "/var/lib/node_exporter/pgsweep.prom")
    }

    @Test("values and ${VAR} expansion are read")
    func values() throws {
        let config = try parse(
            """
            database:
              url: ${DATABASE_URL}
              statement_timeout: 1m30s
              lock_timeout: 500ms
            table: App.Queue
            schema: maint
            archive: { directory: /var/lib/pgsweep, compression_level: 9 }
            """, environment: ["DATABASE_URL": "postgresql://a@b/c"])
        #expect(config.database.url == "postgresql://a@b/c")
        #expect(config.database.statementTimeout == ConfigDuration(milliseconds: 90_000))
        #expect(config.database.lockTimeout == ConfigDuration(milliseconds: 500))
        #expect(config.table == QualifiedName(schema: "app", name: "queue"))
        #expect(config.schema == "maint")
        #expect(config.archive.directory == "/var/lib/pgsweep")
        #expect(config.archive.compressionLevel == 9)
    }

    @Test("${VAR:-default} falls back; $$ is a dollar")
    func expansionDefaults() throws {
        let config = try parse("database: { url: \"${NOPE:-host=x} pa$$word\" }")
        #expect(config.database.url == "host=x pa$word")
    }

    @Test("every problem is reported at once with line, column and key path")
    func allProblemsAtOnce() {
        let found = issues(
            """
            database:
              url: ${MISSING_VAR}
              statement_timeout: seven days
            tabel: x
            archive:
              compression_level: 30
            """)
        #expect(found == [
            "/etc/pgsweep/jobs.yaml:2:8: database.url: environment variable MISSING_VAR is not set (write ${MISSING_VAR:-default} for a default)",
            "/etc/pgsweep/jobs.yaml:3:22: database.statement_timeout: expected a duration like 30s, got \"seven days\"",
            "/etc/pgsweep/jobs.yaml:4:1: tabel: unknown key \"tabel\"; did you mean \"table\"?",
            "/etc/pgsweep/jobs.yaml:6:22: archive.compression_level: expected an integer from 1 to 19, got \"30\"",
        ])
    }

    @Test("YAML syntax errors name line and column")
    func syntaxError() {
        let found = issues("database:\n  url: [unclosed\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("/etc/pgsweep/jobs.yaml:3:1: invalid YAML") == true, "\(found)")
    }

    @Test("duplicate keys are refused with their line")
    func duplicateKeys() {
        let found = issues("table: a\ntable: b\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("duplicate key \"table\"") == true, "\(found)")
    }

    @Test("a table name with three parts is refused")
    func badTable() {
        #expect(issues("table: a.b.c").first?.contains("table: expected a table name") == true)
    }
}

@Suite("Durations")
struct ConfigDurationTests {
    @Test("units and compounds parse", arguments: [
        ("500ms", 500), ("30s", 30_000), ("10m", 600_000), ("1h", 3_600_000), ("7d", 604_800_000), ("1h30m", 5_400_000),
    ] as [(String, Int64)])
    func parses(text: String, milliseconds: Int64) {
        #expect(ConfigDuration(parsing: text)?.milliseconds == milliseconds)
    }

    @Test("anything else is refused", arguments: ["", "7", "seven days", "1w", "-5s", "1.5h", "99999999999999999d"])
    func refuses(text: String) {
        #expect(ConfigDuration(parsing: text) == nil)
    }
}
