import Foundation
import LibPQ
import Testing
import TestSupport

/// What a whole-partition archive leaves when it cannot finish: a partition that cannot be
/// detached, a detach put off by a long transaction, a run killed before its copy commits.
/// None may leave a partition frozen (every insert or update into it fails) or archive a row
/// twice.
@Suite("Whole partitions that cannot be finished")
struct PartitionFreezeTests {
    typealias Queue = PartitionArchiveTests

    static func frozenCount(_ connection: Connection) throws -> Int64 {
        try Queue.count(connection, "SELECT count(*) FROM pg_constraint WHERE conname = 'pgsweep_archiving'")
    }

    /// Whether an insert into the day `daysAgo` (rolled back) succeeds.
    static func insertWorks(into daysAgo: Int, _ connection: Connection) -> Bool {
        do {
            try connection.execute("BEGIN")
            defer { _ = try? connection.execute("ROLLBACK") }
            try connection.execute(
                "INSERT INTO queue (flow_name, status, created_at, updated_at) VALUES ('probe', 'pending', current_date - $1::int + interval '1 hour', now())",
                [Int32(daysAgo)])
            return true
        } catch {
            return false
        }
    }

    @Test("a foreign key that references the queue: no partition is frozen or taken whole, the rows it points at stay, every other archivable row goes, run after run")
    func referencedByForeignKey() async throws {
        try await Queue.withQueue { _, connection, config, _ in
            let day = try Queue.name(daysAgo: 12, connection)
            try connection.execute("CREATE TABLE child (qid bigint, qca timestamptz, FOREIGN KEY (qid, qca) REFERENCES queue (id, created_at))")
            let held = try connection.query(
                "INSERT INTO child SELECT id, created_at FROM \(day) WHERE status = 'completed' ORDER BY id LIMIT 1 RETURNING qid")[0]
                .require(Int64.self, "qid")
            let before = try Queue.partitions(connection)

            let dry = try CLI.run(["--config", config, "--log-format", "json", "run", "archive", "--dry-run"])
            #expect(dry.status == 0, "\(dry.all)")
            #expect(dry.stderr.contains("a foreign key references the table"), "\(dry.stderr)")
            #expect(!dry.stderr.contains(": whole ("), "\(dry.stderr)")

            for _ in 0..<2 {
                let run = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
                #expect(run.status == 0, "\(run.all)")
                #expect(try Self.frozenCount(connection) == 0)
                #expect(try Queue.partitions(connection) == before)
            }
            #expect(try Queue.count(connection, "SELECT count(*) FROM pgsweep.archive_partitions") == 0)
            // The row the key points at stays; no other archivable row does.
            #expect(try Queue.count(connection, "SELECT count(*) FROM queue WHERE id = $1", [held]) == 1)
            #expect(try Queue.count(
                connection,
                """
                SELECT count(*) FROM queue WHERE id <> $1 AND ((status = 'completed' AND completed_at < now() - interval '7 days')
                    OR (status = 'failed' AND retry_count >= 3 AND completed_at IS NULL AND created_at < now() - interval '30 days'))
                """, [held]) == 0)
            #expect(Self.insertWorks(into: 12, connection))
            try Queue.nothingLost(connection, config)

            let doctor = try CLI.run(["--config", config, "doctor"])
            #expect(doctor.stdout.contains("a foreign key references the table (child_qid_qca_fkey on child)"), "\(doctor.stdout)")
        }
    }

    @Test("a partition whose DETACH fails after its copy committed (a foreign key added meanwhile) is put back: unfrozen, its files unledgered, state kept; the run goes on row by row")
    func detachFails() async throws {
        try await Queue.withQueue { _, connection, config, _ in
            let process = try ProcessRunner.start(
                RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "run", "archive"],
                environment: ["PGSWEEP_STOP_AT": "partition-after-commit"])
            #expect(eventually(within: 60) { process.isStopped || process.hasExited })
            // The first partition taken whole, copied and committed: a key now points into it.
            let copied = try connection.query(
                "SELECT partition_name FROM pgsweep.archive_partitions WHERE state = 'copied' ORDER BY id LIMIT 1")[0]
                .require(String.self, "partition_name")
            try connection.execute("SET lock_timeout = '30s'")
            try connection.execute("CREATE TABLE child (qid bigint, qca timestamptz)")
            try connection.execute("INSERT INTO child SELECT id, created_at FROM \(copied) ORDER BY id LIMIT 1")
            do {
                try connection.execute("ALTER TABLE child ADD FOREIGN KEY (qid, qca) REFERENCES queue (id, created_at)")
            } catch {
                process.signal(SIGCONT)
                _ = try? process.wait()
                throw error
            }
            process.signal(SIGCONT)
            let run = try process.wait()
            #expect(run.status == 0, "\(run.all)")
            #expect(run.stderr.contains("putting it back into the table"), "\(run.stderr)")
            #expect(try Self.frozenCount(connection) == 0)
            #expect(try Queue.count(connection, "SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass($1) AND inhparent = 'queue'::regclass", [copied]) == 1)
            #expect(try Queue.count(connection, "SELECT count(*) FROM pgsweep.archive_partitions WHERE state = 'kept'") >= 1)
            #expect(try Queue.count(connection, "SELECT count(*) FROM pgsweep.archive_partitions WHERE state = 'copied'") == 0)
            #expect(try Queue.count(connection, "SELECT count(*) FROM child c JOIN queue q ON q.id = c.qid") == 1)
            try Queue.nothingLost(connection, config)

            // The next run neither fails nor freezes anything; verify and --repair clear the put-back files.
            let next = try CLI.run(["--config", config, "--log-format", "json", "run", "archive"])
            #expect(next.status == 0, "\(next.all)")
            #expect(try Self.frozenCount(connection) == 0)
            let repair = try CLI.run(["--config", config, "archive", "verify", "--repair"])
            #expect(repair.status == 0, "\(repair.all)")
            try Queue.nothingLost(connection, config)
        }
    }

    @Test("a detach put off by a long transaction leaves the partition copied and attached: the same run's row-by-row pass leaves its rows alone, and the next run drops it")
    func putOffDetachIsNotArchivedTwice() async throws {
        try await Queue.withQueue(lockTimeout: "1s") { database, connection, config, _ in
            let process = try ProcessRunner.start(
                RepositoryPaths.executable("pgsweep"), ["--config", config, "--log-format", "json", "run", "archive"],
                environment: ["PGSWEEP_STOP_AT": "partition-after-commit"])
            #expect(eventually(within: 60) { process.isStopped || process.hasExited })
            // A transaction on the table, older than lock_timeout by the time the detach looks.
            let reader = try database.connect()
            try reader.execute("BEGIN")
            try reader.execute("SELECT count(*) FROM queue WHERE id = 1")
            let pid = try reader.query("SELECT pg_backend_pid() AS pid")[0].require(Int32.self, "pid")
            #expect(try eventually(within: 30) {
                try Queue.count(connection, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND xact_start < now() - interval '1.5s'", [pid]) == 1
            })
            process.signal(SIGCONT)
            let run = try process.wait()
            #expect(run.status == 0, "\(run.all)")
            let pending = try connection.query(
                "SELECT partition_name, row_count FROM pgsweep.archive_partitions WHERE state = 'copied'")
            #expect(!pending.isEmpty, "\(run.stderr)")
            for partition in pending {
                let name = try partition.require(String.self, "partition_name")
                // Its rows are in its files and still in the table: none went into a second file.
                #expect(try Queue.count(connection, "SELECT count(*) FROM \(name)") == partition.require(Int64.self, "row_count"))
            }
            let ledgered = try Queue.count(connection, "SELECT coalesce(sum(row_count), 0)::int8 FROM pgsweep.archive_batches")
            let gone = try Queue.count(connection, "SELECT count(*) FROM snapshot s WHERE NOT EXISTS (SELECT 1 FROM queue q WHERE q.id = s.id)")
            let pendingRows = try Queue.count(
                connection, "SELECT coalesce(sum(row_count), 0)::int8 FROM pgsweep.archive_partitions WHERE state = 'copied'")
            #expect(ledgered == gone + pendingRows, "ledger \(ledgered), gone \(gone), pending \(pendingRows)")
            try reader.execute("COMMIT")
            try Queue.finishes(connection, config, expectDropped: try Int(Queue.count(
                connection, "SELECT count(*) FROM pgsweep.archive_partitions")))
        }
    }

    @Test("killed before its copy commits, a run leaves a partition frozen: doctor and verify say so, and the next run of any job removes the freeze and marks the dead run interrupted")
    func killedBeforeCommit() async throws {
        try await TestDatabase.with(queueTable: true) { database in
            let scratch = try ScratchFolder()
            let connection = try database.connect()
            try Queue.createQueue(connection)
            let config = try RunnerTests.prepare(
                database, scratch,
                jobs: """
                  archive: { type: archive, schedule: "0 3 * * *", completed_before: 7d, failed_before: 30d, batch_size: 5000 }
                  analyze: { type: analyze, schedule: "30 3 * * *", force: true }
                """,
                extra: "  lock_timeout: 2s\ntable: queue\narchive:\n  directory: \(scratch.file("archive"))\n  min_free_space: 1kB")
            let killed = try CLI.run(["--config", config, "run", "archive"], environment: ["PGSWEEP_CRASH_AT": "partition-after-files"])
            #expect(killed.status == 128 + SIGKILL, "\(killed.all)")
            #expect(try Self.frozenCount(connection) >= 1)
            let frozen = try connection.query(
                "SELECT conrelid::regclass::text AS name FROM pg_constraint WHERE conname = 'pgsweep_archiving' LIMIT 1")[0]
                .require(String.self, "name")

            let doctor = try CLI.run(["--config", config, "doctor"])
            #expect(doctor.status == 1, "\(doctor.all)")
            #expect(doctor.stdout.contains(frozen) && doctor.stdout.contains("frozen by an interrupted archive run"), "\(doctor.stdout)")
            let verify = try CLI.run(["--config", config, "archive", "verify"])
            #expect(verify.status == 0, "\(verify.all)")
            #expect(verify.stdout.contains("partition public.\(frozen): frozen by an interrupted archive run"), "\(verify.stdout)")

            let analyze = try CLI.run(["--config", config, "--log-format", "json", "run", "analyze"])
            #expect(analyze.status == 0, "\(analyze.all)")
            #expect(try Self.frozenCount(connection) == 0)
            #expect(try RunnerTests.runs(connection, job: "archive").map(\.status) == ["interrupted"])
            #expect(try RunnerTests.runs(connection, job: "analyze").map(\.status) == ["succeeded"])
            let healthy = try CLI.run(["--config", config, "doctor"])
            #expect(healthy.status == 0, "\(healthy.all)")
        }
    }
}
