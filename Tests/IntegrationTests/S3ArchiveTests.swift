import ArchiveFormat
import Foundation
import LibPQ
import ObjectStore
import Testing
import TestSupport

@testable import PGSweep

/// The archive job, verify, repair and restore with an S3-compatible store (moto, with
/// authentication on) as the destination.
@Suite("Archive to an object store")
struct S3ArchiveTests {
    let store: TestObjectStore
    let prefix: String

    init() throws {
        store = try TestObjectStore.get()
        prefix = TestObjectStore.uniquePrefix("archive")
    }

    /// A configuration archiving to the test bucket under this test's prefix, through `endpoint`.
    func prepare(
        _ database: TestDatabase, _ scratch: ScratchFolder, rows: Int, job: String = "", endpoint: String? = nil, s3: String = ""
    ) throws -> String {
        let config = try RunnerTests.prepare(
            database, scratch,
            jobs: "  archive: { type: archive, schedule: \"0 3 * * *\", completed_before: 7d, failed_before: 30d\(job) }",
            extra: """
                archive:
                  s3: { bucket: \(store.bucket), prefix: \(prefix), endpoint: "\(endpoint ?? store.endpoint)", path_style: true, retries: 2, timeout: 2s\(s3) }
                """)
        if rows > 0 { try QueueFixture.load(try database.connect(), count: rows) }
        return config
    }

    /// The store as pgsweep sees it.
    func archiveStore() throws -> S3ArchiveStore {
        try S3ArchiveStore(client: S3Client(
            location: S3Location(bucket: store.bucket, prefix: prefix, region: store.region, endpoint: store.endpoint, pathStyle: true),
            credentials: CredentialProvider(environment: store.environment())))
    }

    func run(_ arguments: [String], config: String, environment: [String: String] = [:]) throws -> ProcessOutput {
        try CLI.run(["--config", config] + arguments, environment: store.environment().merging(environment) { $1 })
    }

    @Test("hostile values survive the store and restore exactly; restoring again inserts nothing")
    func roundTrip() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try prepare(database, scratch, rows: 0)
            let connection = try database.connect()
            try connection.execute("SET statement_timeout = 0")
            try ArchiveTests.insertHostileRows(connection)
            try connection.execute("CREATE TABLE original AS SELECT * FROM processing_queue")
            try connection.execute("CREATE TABLE restored (LIKE processing_queue INCLUDING ALL)")

            let archived = try run(["run", "archive"], config: config)
            #expect(archived.status == 0, "\(archived.all)")
            #expect(try connection.query("SELECT count(*) FROM processing_queue")[0].decode(Int.self, at: 0) == 0)
            let files = try #require(try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0))
            #expect(files > 1)
            #expect(try archiveStore().dataKeys(under: "").count == files)
            let url = "s3://\(store.bucket)/\(prefix)"
            let restore = try run(["restore", url, "--into", "restored"], config: config)
            #expect(restore.status == 0, "\(restore.all)")
            #expect(restore.stdout.contains("inserted 200000 rows; 0 already present"), "\(restore.stdout)")
            let same = try connection.query(
                "SELECT count(*) FROM original o JOIN restored r USING (id) WHERE ROW(o.*) IS NOT DISTINCT FROM ROW(r.*)")[0]
                .decode(Int.self, at: 0)
            #expect(same == 200_000)
            // No path: the configured destination.
            let again = try run(["restore", "--into", "restored"], config: config)
            #expect(again.status == 0, "\(again.all)")
            #expect(again.stdout.contains("inserted 0 rows; 200000 already present"), "\(again.stdout)")
            let list = try run(["archive", "list"], config: config)
            #expect(list.stdout.contains("\(files) file(s) of database"), "\(list.all)")
            #expect(list.stdout.contains("in \(url)"), "\(list.stdout)")
        }
    }

    @Test("killed at each step of a batch, no row is lost; verify lists only leftovers; repair removes them", arguments: [
        "archive-mid-stream", "archive-after-fsync", "archive-between-files", "archive-after-rename", "archive-after-ledger",
    ])
    func crashAtEachStep(point: String) async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try prepare(database, scratch, rows: 10_000, job: ", batch_size: 1000")
            let connection = try database.connect()
            let original = try ArchiveTests.ids(connection)
            let archive = try archiveStore()

            let killed = try run(["run", "archive"], config: config, environment: ["PGSWEEP_CRASH_AT": "\(point):2"])
            #expect(killed.status == 128 + SIGKILL, "\(killed.all)")
            try ArchiveTests.checkInvariant(connection, original: original, store: archive)
            try ArchiveTests.verifyShowsOnlyLeftovers(config, environment: store.environment())

            let next = try run(["run", "archive"], config: config)
            #expect(next.status == 0, "\(next.all)")
            try ArchiveTests.checkInvariant(connection, original: original, store: archive)
            #expect(try connection.query("SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)")[0].decode(Int.self, at: 0) == 0)

            let repair = try run(["archive", "verify", "--repair", "--json"], config: config)
            #expect(repair.status == 0, "\(repair.all)")
            let clean = try run(["archive", "verify", "--json"], config: config)
            let items = try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(!items.isEmpty && items.allSatisfy { $0["state"] as? String == "ok" }, "\(clean.stdout)")
            let ledgered = try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0)
            #expect(try archive.dataKeys(under: "").count == ledgered)
            try ArchiveTests.checkInvariant(connection, original: original, store: archive)
        }
    }

    @Test("an object too large for one PUT goes up in parts; killed before completing, repair aborts the upload")
    func multipartUpload() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try prepare(database, scratch, rows: 0, job: ", batch_size: 200000", s3: ", part_size: 5MB")
            let connection = try database.connect()
            try connection.execute("SET statement_timeout = 0")
            // Hex compresses to about half: 150,000 rows of 96 hex digits make an object of about 8 MB.
            try connection.execute(
                """
                INSERT INTO processing_queue (flow_name, status, payload, created_at, completed_at)
                SELECT 'f', 'completed', jsonb_build_object('noise', md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text)),
                       now() - interval '30 days', now() - interval '30 days'
                FROM generate_series(1, 150000) g
                """)
            let original = try ArchiveTests.ids(connection)
            let archive = try archiveStore()

            let killed = try run(["run", "archive"], config: config, environment: ["PGSWEEP_CRASH_AT": "archive-after-fsync"])
            #expect(killed.status == 128 + SIGKILL, "\(killed.all)")
            #expect(try archive.incompleteWrites(under: "").count == 1)
            try ArchiveTests.checkInvariant(connection, original: original, store: archive)
            let verify = try run(["archive", "verify", "--json"], config: config)
            #expect(verify.stdout.contains("open multipart upload"), "\(verify.all)")
            let repair = try run(["archive", "verify", "--repair"], config: config)
            #expect(repair.status == 0, "\(repair.all)")
            #expect(try archive.incompleteWrites(under: "").isEmpty)

            let next = try run(["run", "archive"], config: config)
            #expect(next.status == 0, "\(next.all)")
            let keys = try archive.dataKeys(under: "")
            #expect(keys.count == 1)
            let info = try #require(try archive.client.head(keys[0]))
            #expect(info.size > 5 << 20)
            #expect(info.etag?.hasSuffix("-2\"") == true, "\(info)")
            try ArchiveTests.checkInvariant(connection, original: original, store: archive)
            #expect(try connection.query("SELECT count(*) FROM processing_queue")[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("a wrong secret fails the run with the store's error, moves no row and shows no secret")
    func wrongSecret() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try prepare(database, scratch, rows: 1_000)
            let connection = try database.connect()
            let original = try ArchiveTests.ids(connection)
            let secret = "wrong-secret-\(UInt32.random(in: 0...UInt32.max))"
            let failed = try run(["run", "archive"], config: config, environment: ["AWS_SECRET_ACCESS_KEY": secret])
            #expect(failed.status == 1, "\(failed.all)")
            #expect(failed.all.contains("SignatureDoesNotMatch"), "\(failed.all)")
            #expect(!failed.all.contains(secret))
            #expect(!failed.all.contains(store.secretAccessKey))
            #expect(try ArchiveTests.ids(connection) == original)
            #expect(try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("an object already at a batch's key is never overwritten: the batch fails and its rows stay")
    func neverOverwrites() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try prepare(database, scratch, rows: 2_000)
            let connection = try database.connect()
            let original = try ArchiveTests.ids(connection)
            let source = try QueueTable.resolve(QualifiedName(schema: nil, name: "processing_queue"), on: connection).archiveSource
            let next = try #require(try connection.query(
                "SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM pgsweep.job_runs_id_seq")[0].decode(Int64.self, at: 0))
            // Someone else's objects at every key the run's first batch could take in the next minute.
            let archive = try archiveStore()
            let now = Date()
            let decoy = Array("not pgsweep's".utf8)
            for second in -5...60 {
                let key = ArchivePaths.dataKey(source: source, date: now.addingTimeInterval(Double(second)), runID: next, batch: 1)
                try decoy.withUnsafeBytes { try archive.client.create(key, bytes: $0) }
            }
            let failed = try run(["run", "archive"], config: config)
            #expect(failed.status == 1, "\(failed.all)")
            #expect(failed.all.contains("PreconditionFailed"), "\(failed.all)")
            #expect(try ArchiveTests.ids(connection) == original)
            #expect(try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0) == 0)
            for key in try archive.dataKeys(under: "") {
                #expect(try archive.contents(key) == Data(decoy), "\(key)")
            }
        }
    }

    @Test("doctor checks the store: credentials, bucket, a create-only probe; a wrong secret is a problem")
    func doctor() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try prepare(database, scratch, rows: 0)
            let good = try run(["doctor"], config: config)
            #expect(good.stdout.contains("archive store"), "\(good.all)")
            #expect(good.stdout.contains("is reachable and writable (credentials: environment (AWS_ACCESS_KEY_ID))"), "\(good.all)")
            let bad = try run(["doctor"], config: config, environment: ["AWS_SECRET_ACCESS_KEY": "wrong"])
            #expect(bad.status == 1, "\(bad.all)")
            #expect(bad.stdout.contains("SignatureDoesNotMatch"), "\(bad.all)")
            #expect(try archiveStore().client.list().isEmpty)
        }
    }

    @Test("verify finds an object whose content was replaced under the same key")
    func replacedObject() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let config = try prepare(database, scratch, rows: 2_000)
            #expect(try run(["run", "archive"], config: config).status == 0)
            let archive = try archiveStore()
            let key = try #require(try archive.dataKeys(under: "").first)
            var bytes: [UInt8] = []
            try archive.read(key) { bytes += $0 }
            bytes[bytes.count / 2] ^= 0xff
            try archive.client.delete(key)
            try bytes.withUnsafeBytes { try archive.client.create(key, bytes: $0) }
            let verify = try run(["archive", "verify"], config: config)
            #expect(verify.status == 4, "\(verify.all)")
            #expect(verify.all.contains(key), "\(verify.all)")
            #expect(verify.all.contains("SHA-256"), "\(verify.all)")
        }
    }

    @Test("faults between pgsweep and the store: retried when they pass, rolled back when they do not; nothing lost", arguments: [
        "drop:4", "status:4:500", "storm:4:503", "stall:4",
    ])
    func faults(fault: String) async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let proxy = try FaultProxy(upstreamPort: store.port, fault: fault)
            defer { proxy.stop() }
            let config = try prepare(database, scratch, rows: 5_000, job: ", batch_size: 1000", endpoint: proxy.endpoint)
            let connection = try database.connect()
            let original = try ArchiveTests.ids(connection)
            let archive = try archiveStore()

            let faulty = try run(["run", "archive"], config: config)
            try ArchiveTests.checkInvariant(connection, original: original, store: archive)
            #expect(faulty.stderr.contains("object store request failed; trying again"), "\(faulty.all)")
            if fault.hasPrefix("storm") {
                #expect(faulty.status == 1, "\(faulty.all)")
                #expect(faulty.all.contains("SlowDown"), "\(faulty.all)")
                #expect(faulty.all.contains("gave up after 3 attempts"), "\(faulty.all)")
                #expect(try connection.query("SELECT count(*) FROM pgsweep.archive_batches")[0].decode(Int.self, at: 0) == 1)
            } else {
                #expect(faulty.status == 0, "\(faulty.all)")
            }
            proxy.stop()
            let direct = try prepare(database, scratch, rows: 0, job: ", batch_size: 1000")
            let next = try run(["run", "archive"], config: direct)
            #expect(next.status == 0, "\(next.all)")
            try ArchiveTests.checkInvariant(connection, original: original, store: archive)
            #expect(try connection.query("SELECT count(*) FROM processing_queue WHERE \(ArchiveTests.archivable)")[0].decode(Int.self, at: 0) == 0)
            try ArchiveTests.verifyShowsOnlyLeftovers(direct, environment: store.environment())
        }
    }
}
