import Foundation
import LibPQ
import Testing
import TestSupport

@Suite("A database that cannot be reached")
struct ConnectionFailureTests {
    @Test("a wrong password gives exit 3, names host, port and database, and never shows the password")
    func wrongPassword() async throws {
        try await TestDatabase.with { database in
            let connection = try database.connect()
            let role = "pw_\(database.name)"
            try connection.execute("CREATE ROLE \(quoteIdentifier(role)) LOGIN PASSWORD 'Right-Secret-42'")
            defer { _ = try? connection.execute("DROP ROLE \(quoteIdentifier(role))") }
            let scratch = try ScratchFolder()
            let port = database.cluster.port
            let secret = "Wr0ng-S3cret-Value"

            for url in [
                "postgresql://\(role):\(secret)@127.0.0.1:\(port)/\(database.name)",
                "host=127.0.0.1 port=\(port) dbname=\(database.name) user=\(role) password=\(secret)",
            ] {
                let config = "\(scratch.path)/jobs.yaml"
                try "database:\n  url: \"\(url)\"\n".write(toFile: config, atomically: true, encoding: .utf8)
                for command in [["doctor"], ["schema", "check"]] {
                    let output = try CLI.run(["--config", config] + command)
                    #expect(output.status == 3, "\(output.all)")
                    #expect(!output.all.contains(secret))
                    #expect(output.stderr.contains("password authentication failed"))
                    #expect(output.stderr.contains("host=127.0.0.1"))
                    #expect(output.stderr.contains("port=\(port)"))
                    #expect(output.stderr.contains("dbname=\(database.name)"))
                }
            }

            // The same password from the environment instead of the URL is masked too.
            let config = "\(scratch.path)/jobs.yaml"
            try "database:\n  url: \"host=127.0.0.1 port=\(port) dbname=\(database.name) user=\(role)\"\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            let fromEnvironment = try CLI.run(["--config", config, "doctor"], environment: ["PGPASSWORD": secret])
            #expect(fromEnvironment.status == 3)
            #expect(!fromEnvironment.all.contains(secret))

            // And the right password connects: the failures above were about the password.
            let right = try CLI.run(["--config", config, "doctor"], environment: ["PGPASSWORD": "Right-Secret-42"])
            #expect(right.status != 3, "\(right.all)")
        }
    }

    @Test("a connection string libpq cannot parse is refused with its place, never its text", arguments: [
        ("postgresql://app:50%offSale@127.0.0.1:1/queue", "50%offSale", "in the password"),
        ("postgresql://app:bad%00pass@127.0.0.1:1/queue", "bad%00pass", "NUL byte"),
        ("password=hunter2 topsecretword host=127.0.0.1 port=1", "topsecretword", "after the value of password"),
    ])
    func unparsableConninfo(url: String, secret: String, place: String) throws {
        let scratch = try ScratchFolder()
        let config = "\(scratch.path)/jobs.yaml"
        try "database:\n  url: \"${DATABASE_URL}\"\njobs:\n  analyze:\n    type: analyze\n    schedule: \"@daily\"\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        for command in [["doctor"], ["run", "--all"], ["status"], ["metrics"], ["history"], ["schema", "check"]] {
            let output = try CLI.run(["--config", config] + command, environment: ["DATABASE_URL": url])
            #expect(output.status == 3, "\(command): \(output.all)")
            #expect(!output.all.contains(secret), "\(command): \(output.all)")
            #expect(!output.all.contains("hunter2"), "\(command): \(output.all)")
            #expect(output.stderr.contains("not valid"), "\(command): \(output.all)")
            #expect(output.stderr.contains(place), "\(command): \(output.all)")
        }
    }

    @Test("a port nobody listens on gives exit 3 with the reason")
    func nobodyListening() throws {
        let scratch = try ScratchFolder()
        let config = "\(scratch.path)/jobs.yaml"
        try "database:\n  url: \"host=127.0.0.1 port=1 dbname=queue user=app connect_timeout=5\"\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let output = try CLI.run(["--config", config, "schema", "check"])
        #expect(output.status == 3)
        #expect(output.stderr.contains("Connection refused"))
        #expect(output.stderr.contains("port=1"))
        #expect(output.stderr.contains("dbname=queue"))
    }

    @Test("a bad configuration gives exit 2 before any connection is tried")
    func badConfigBeforeConnecting() throws {
        let scratch = try ScratchFolder()
        let config = "\(scratch.path)/jobs.yaml"
        // The URL points at a port nobody listens on: reaching it would give exit 3, not 2.
        try "database:\n  url: \"host=127.0.0.1 port=1\"\n  statement_timeot: 30s\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let output = try CLI.run(["--config", config, "doctor"])
        #expect(output.status == 2, "\(output.all)")
        #expect(output.stderr.contains("jobs.yaml:3:3: database.statement_timeot: unknown key"))
        #expect(output.stderr.contains("did you mean \"statement_timeout\"?"))
    }

    @Test("a missing configuration file gives exit 2 naming it")
    func missingConfig() throws {
        let output = try CLI.run(["--config", "/nonexistent/jobs.yaml", "doctor"])
        #expect(output.status == 2)
        #expect(output.stderr.contains("/nonexistent/jobs.yaml: file not found"))
    }

    @Test("bad usage gives exit 2, --version and --help exit 0")
    func usage() throws {
        #expect(try CLI.run(["no-such-command"]).status == 2)
        #expect(try CLI.run(["schema", "check", "--bogus"]).status == 2)
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        #expect(try CLI.run(["--help"]).status == 0)
    }
}
