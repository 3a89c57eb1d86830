import Foundation
import LibPQ
import Testing
import TestSupport

/// Every job, status, explain, archive and restore, run as the role `ops/sql/role.sql` makes.
@Suite("Least-privilege role")
struct LeastPrivilegeTests {
    @Test("ops/sql/role.sql grants what every job needs and nothing lets doctor complain")
    func everyJobAsTheRole() async throws {
        try await TestDatabase.with { database in
            let admin = try database.connect()
            // The table belongs to a group role, as role.sql recommends before PostgreSQL 17.
            let owner = "queue_owner_\(database.name)"
            try admin.execute("CREATE ROLE \(quoteIdentifier(owner)) NOLOGIN")
            defer {
                _ = try? admin.execute("DROP OWNED BY pgsweep")
                _ = try? admin.execute("DROP OWNED BY \(quoteIdentifier(owner))")
                _ = try? admin.execute("DROP ROLE \(quoteIdentifier(owner))")
            }
            try database.createQueueTable()
            try database.applyV007()
            try admin.execute("ALTER TABLE processing_queue OWNER TO \(quoteIdentifier(owner))")
            try admin.execute("CREATE EXTENSION pgstattuple")
            try QueueFixture.load(admin, count: 20_000)
            let psql = try ProcessRunner.run(
                "/usr/bin/psql",
                ["-X", "-q", "-v", "owner_role=\(owner)", "-f", RepositoryPaths.file("ops/sql/role.sql"), database.conninfo])
            #expect(psql.status == 0, "\(psql.all)")

            let scratch = try ScratchFolder()
            let config = scratch.file("jobs.yaml")
            try """
                database:
                  url: "\(database.cluster.conninfo(database: database.name, user: "pgsweep"))"
                archive:
                  directory: \(scratch.file("archive"))
                  min_free_space: 1kB
                jobs:
                  reclaim: { type: reclaim_orphans, schedule: "*/5 * * * *" }
                  reset: { type: reset_failed, schedule: "*/15 * * * *" }
                  archive: { type: archive, schedule: "0 3 * * *" }
                  analyze: { type: analyze, schedule: "30 3 * * *", force: true }
                  reindex: { type: reindex, schedule: "0 4 * * 0", bloat_threshold: 0.01, min_size: 8kB, max_indexes: 2 }
                """.write(toFile: config, atomically: true, encoding: .utf8)
            for command in [["schema", "apply"], ["doctor"], ["run", "--all"], ["status", "--indexes"], ["explain"], ["archive", "verify"]] {
                let output = try CLI.run(["--config", config, "--log-format", "json"] + command)
                #expect(output.status == 0, "\(command): \(output.all)")
                #expect(!output.stderr.contains("throttle signal cannot be read"), "\(command): \(output.stderr)")
                if command == ["doctor"] {
                    #expect(output.stdout.contains("throttle signals") && output.stdout.contains("all readable"), "\(output.stdout)")
                    #expect(output.stdout.contains("job reindex") && !output.stdout.contains("cannot run"), "\(output.stdout)")
                }
            }
            try admin.execute("CREATE TABLE restored (LIKE processing_queue INCLUDING ALL)")
            try admin.execute("ALTER TABLE restored OWNER TO \(quoteIdentifier(owner))")
            // The grants a table to restore into needs, as the README says: role.sql for it.
            let grantRestored = try ProcessRunner.run(
                "/usr/bin/psql",
                ["-X", "-q", "-v", "table=restored", "-f", RepositoryPaths.file("ops/sql/role.sql"), database.conninfo])
            #expect(grantRestored.status == 0, "\(grantRestored.all)")
            let restore = try CLI.run(["--config", config, "restore", scratch.file("archive"), "--into", "restored"])
            #expect(restore.status == 0, "\(restore.all)")
            let runs = try admin.query("SELECT job || ':' || status FROM pgsweep.job_runs ORDER BY id").map { try $0.decode(String.self, at: 0)! }
            #expect(runs == ["reclaim:succeeded", "reset:succeeded", "archive:succeeded", "analyze:succeeded", "reindex:succeeded"])

            // Without the owner role, doctor names the jobs the role cannot run, and why.
            try admin.execute("REVOKE \(quoteIdentifier(owner)) FROM pgsweep")
            if admin.serverVersion >= 170_000 { try admin.execute("REVOKE MAINTAIN ON processing_queue FROM pgsweep") }
            let doctor = try CLI.run(["--config", config, "doctor"])
            #expect(doctor.status == 1)
            #expect(doctor.stdout.contains("job analyze") && doctor.stdout.contains("cannot run it: needs ownership of processing_queue"))
            #expect(doctor.stdout.split(separator: "\n").contains { $0.contains("job reclaim") && $0.hasPrefix("ok") })
        }
    }
}
