import Foundation
import Testing
import TestSupport

/// Every kind of bad configuration is refused with exit 2 and a message that says where,
/// before any connection is tried (the URL points at a port nobody listens on, so trying
/// would give exit 3 instead).
@Suite("Bad configuration")
struct BadConfigTests {
    static let base = """
        database:
          url: "host=127.0.0.1 port=1 dbname=x connect_timeout=2"
        """

    @Test("refused with exit 2, the location and key path, and no connection attempt", arguments: [
        ("jobs: [unclosed\n", "jobs.yaml:4:1: invalid YAML"),
        ("defaults:\n  batch_size: abc\n", "jobs.yaml:4:15: defaults.batch_size: expected a positive integer, got \"abc\""),
        ("defaults:\n  batch_size: 0\n", "jobs.yaml:4:15: defaults.batch_size: expected a positive integer, got \"0\""),
        ("jobs:\n  a: { type: analyze, schedule: \"@daily\", forse: true }\n",
         "jobs.yaml:4:43: jobs.a.forse: unknown key \"forse\"; did you mean \"force\"?"),
        ("jobs:\n  a: { type: reclaim_orphan, schedule: \"@daily\" }\n",
         "jobs.a.type: unknown job type \"reclaim_orphan\"; did you mean \"reclaim_orphans\"?"),
        ("jobs:\n  a: { type: analyze, schedule: \"60 * * * *\" }\n", "jobs.a.schedule: minute field \"60\": 60 is out of range 0-59"),
        ("jobs:\n  a: { type: analyze, schedule: \"0 24 * * *\" }\n", "jobs.a.schedule: hour field \"24\": 24 is out of range 0-23"),
        ("jobs:\n  a: { type: analyze, schedule: \"0 0 32 * *\" }\n", "jobs.a.schedule: day-of-month field \"32\": 32 is out of range 1-31"),
        ("jobs:\n  a: { type: analyze, schedule: \"0 0 1 13 *\" }\n", "jobs.a.schedule: month field \"13\": 13 is out of range 1-12"),
        ("jobs:\n  a: { type: analyze, schedule: \"0 0 * * 8\" }\n", "jobs.a.schedule: day-of-week field \"8\": 8 is out of range 0-7"),
        ("jobs:\n  a: { type: reclaim_orphans, schedule: \"@hourly\", claimed_before: seven days }\n",
         "jobs.a.claimed_before: expected a duration like 7d, got \"seven days\""),
        ("archive:\n  directory: ${PGSWEEP_TEST_UNSET_VARIABLE}\n",
         "jobs.yaml:4:14: archive.directory: environment variable PGSWEEP_TEST_UNSET_VARIABLE is not set"),
        ("jobs:\n  a: { type: analyze, schedule: \"@daily\" }\n  a: { type: analyze, schedule: \"@hourly\" }\n",
         "jobs.yaml:5:3: duplicate key \"a\" in one mapping (first at line 4)"),
        ("jobs:\n  a: { type: analyze, schedule: \"@daily\", force: true, force: false }\n",
         "jobs.yaml:4:56: duplicate key \"force\" in one mapping (first at line 4)"),
        ("table: x; DROP TABLE y\n", "jobs.yaml:3:8: table: expected a table name like processing_queue or app.processing_queue: \";\" is not allowed"),
        ("table: my queue\n", "table: expected a table name like processing_queue or app.processing_queue: a space is not allowed"),
        ("table: pg_catalog.pg_class\n", "table: expected the work-queue table, got \"pg_catalog.pg_class\" in the system schema pg_catalog"),
        ("table: information_schema.tables\n", "in the system schema information_schema"),
        ("timezone: Mars/Olympus_Mons\n", "jobs.yaml:3:11: timezone: expected an IANA time zone such as UTC or Europe/Berlin, got \"Mars/Olympus_Mons\""),
        ("jobs:\n  a: { schedule: \"@daily\" }\n", "jobs.a: missing required key \"type\""),
        ("jobs:\n  a: { type: analyze, flows: [x] }\n", "jobs.a.flows: unknown key \"flows\""),
        ("archive:\n  directory: /tmp/a\n  s3: { bucket: abc }\n", "archive.s3: archive.s3 and archive.directory exclude each other"),
        ("archive:\n  s3: { prefix: x/ }\n", "archive.s3: expected a mapping with at least bucket:"),
        ("archive:\n  s3: { bucket: My_Bucket }\n", "archive.s3.bucket: expected a bucket name (3 to 63 lower-case letters, digits, dots and hyphens), got \"My_Bucket\""),
        ("archive:\n  s3: { bucket: abc, part_size: 1MB }\n", "archive.s3.part_size: expected a size of 5MB or more, like 8MB, got \"1MB\""),
        ("archive:\n  s3: { bucket: abc, endpoint: \"minio:9000\" }\n", "archive.s3.endpoint: expected an http or https URL"),
        ("archive:\n  s3: { bucket: abc, pathstyle: true }\n", "archive.s3.pathstyle: unknown key \"pathstyle\"; did you mean \"path_style\"?"),
        ("metrics:\n  listen: localhost:9187\n", "metrics.listen: expected an IPv4 address and port like 127.0.0.1:9187, got \"localhost:9187\""),
        ("archive:\n  s3: { bucket: abc, retries: 99 }\n", "archive.s3.retries: expected an integer from 0 to 20, got \"99\""),
    ])
    func refused(extra: String, expected: String) throws {
        let scratch = try ScratchFolder()
        let config = scratch.file("jobs.yaml")
        try (Self.base + "\n" + extra).write(toFile: config, atomically: true, encoding: .utf8)
        for command in [["config", "check"], ["run", "--all"], ["run", "--due"]] {
            let output = try CLI.run(["--config", config] + command)
            #expect(output.status == 2, "\(command): \(output.all)")
            #expect(output.stderr.contains(expected), "\(command): \(output.stderr)")
            #expect(!output.stderr.contains("could not connect"))
        }
    }

    @Test("a folder given as --config says so")
    func folderAsConfig() throws {
        let scratch = try ScratchFolder()
        let output = try CLI.run(["--config", scratch.path, "config", "check"])
        #expect(output.status == 2)
        #expect(output.stderr.contains("\(scratch.path): is a folder, not a configuration file"), "\(output.stderr)")
    }

    @Test("several problems are all reported in one go")
    func allAtOnce() throws {
        let scratch = try ScratchFolder()
        let config = scratch.file("jobs.yaml")
        try (Self.base + "\ntimezone: Nowhere\njobs:\n  a: { type: nope, schedule: \"@daily\" }\n  b: { type: analyze, schedule: \"x\" }\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let output = try CLI.run(["--config", config, "config", "check"])
        #expect(output.status == 2)
        #expect(output.stderr.contains("(3 problems)"))
    }
}
