import Foundation
import LibPQ
import Logging

/// The throwaway PostgreSQL cluster shared by one test run.
///
/// Started on first use with `ops/pglocal` in a fresh temporary folder; stopped and deleted
/// when the test process exits, or, if the process dies, by a watchdog that notices its
/// end. A test that needs PostgreSQL fails, never skips, when the cluster cannot start.
public final class TestCluster: Sendable {
    /// Socket directory and TCP port of the server; the superuser is `postgres`.
    public let socketDirectory: String
    public let port: Int

    /// The cluster, started on first access; the error says why it could not start.
    public static let shared: Result<TestCluster, TestClusterError> = {
        do throws(TestClusterError) { return .success(try TestCluster.start()) } catch { return .failure(error) }
    }()

    /// The shared cluster, or a thrown error that fails the calling test.
    public static func get() throws -> TestCluster { try shared.get() }

    init(socketDirectory: String, port: Int) {
        self.socketDirectory = socketDirectory
        self.port = port
    }

    /// A conninfo string for `database` over the private socket, as the superuser.
    public func conninfo(database: String = "postgres", user: String = "postgres") -> String {
        "host=\(socketDirectory) port=\(port) user=\(user) dbname=\(database)"
    }

    /// A superuser connection to `database`, named `pgsweep-tests` in `pg_stat_activity` so
    /// tests can tell their own sessions from pgsweep's.
    public func connect(database: String = "postgres", logger: Logger = TestLogging.silent) throws -> Connection {
        try Connection(conninfo: conninfo(database: database), applicationName: "pgsweep-tests", logger: logger)
    }

    /// A cluster whose server can install `extension`: the shared one when it can, else one
    /// of Debian's PostgreSQL 15 (pg_partman and pg_cron come only as Debian's packages for its
    /// own server), started like `startAnother`. Never a skip: without such a server it throws.
    public static func offering(extension name: String) throws -> TestCluster {
        let shared = try get()
        if try !shared.connect().query("SELECT 1 FROM pg_available_extensions WHERE name = $1", [name]).isEmpty { return shared }
        let bindir = try ProcessRunner.run("/bin/bash", [RepositoryPaths.file("ops/pglocal"), "bindir", "15"])
        guard bindir.status == 0, let path = bindir.stdout.split(separator: "\n").first.map(String.init) else {
            throw TestClusterError(reason: "no server offers \(name): ops/pglocal bindir 15 failed:\n\(bindir.all)")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["PGSWEEP_PG_BINDIR"] = path
        return try launch(["start"], folder: "/tmp/pgsw-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", environment: environment)
    }

    /// Starts another cluster of its own (a different system identifier), stopped and deleted
    /// like the shared one when the test process ends; for tests of several clusters at once.
    public static func startAnother() throws -> TestCluster {
        try start()
    }

    /// Starts a streaming standby of this cluster (`pg_basebackup -R`), stopped and deleted like
    /// the clusters when the test process ends.
    public func startStandby() throws -> TestCluster {
        try Self.launch(["standby", socketDirectory], folder: "/tmp/pgsw-standby-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    private static func start() throws(TestClusterError) -> TestCluster {
        try launch(["start"], folder: "/tmp/pgsw-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// Runs `ops/pglocal <arguments> <folder>` and reads the server's settings from what it prints.
    private static func launch(
        _ arguments: [String], folder: String, environment: [String: String]? = nil
    ) throws(TestClusterError) -> TestCluster {
        let output: ProcessOutput
        do {
            output = try ProcessRunner.run("/bin/bash", [RepositoryPaths.file("ops/pglocal")] + arguments + [folder], environment: environment)
        } catch {
            throw TestClusterError(reason: "could not run ops/pglocal: \(error)")
        }
        guard output.status == 0 else {
            throw TestClusterError(reason: "ops/pglocal \(arguments[0]) failed (exit \(output.status)):\n\(output.all)")
        }
        let settings = output.assignments
        guard let host = settings["PGHOST"], let port = settings["PGPORT"].flatMap(Int.init) else {
            throw TestClusterError(reason: "ops/pglocal printed no PGHOST/PGPORT:\n\(output.all)")
        }
        Cleanup.register(folder: folder, environment: environment)
        return TestCluster(socketDirectory: host, port: port)
    }
}

/// Why the test cluster could not start.
public struct TestClusterError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "PostgreSQL test cluster: \(reason)" }
}

/// Stops the clusters at process exit, and makes sure they are stopped even if the process dies.
private enum Cleanup {
    private static let lock = NSLock()
    // nonisolated(unsafe): read and written only under `lock`.
    nonisolated(unsafe) private static var folders: [(folder: String, environment: [String: String]?)] = []

    /// `environment` is the one the cluster was started with: its PGSWEEP_PG_BINDIR names
    /// the programs that stop it.
    static func register(folder: String, environment: [String: String]? = nil) {
        let first = lock.withLock {
            folders.append((folder, environment))
            return folders.count == 1
        }
        // The watchdog blocks reading a pipe whose write end only this process holds (it is
        // close-on-exec, so no child inherits it). When this process ends in any way, the
        // read returns and the watchdog destroys the cluster. It runs in its own session so
        // that a Ctrl-C aimed at the tests does not stop it first.
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        let script = RepositoryPaths.file("ops/pglocal")
        _ = try? ProcessRunner.spawn(
            "/bin/bash", ["-c", "read -r _ || true; exec /bin/bash \"$0\" destroy \"$1\"", script, folder],
            environment: environment ?? ProcessInfo.processInfo.environment, stdinFD: fds[0],
            stdoutPath: "/dev/null", stderrPath: "/dev/null", newSession: true)
        close(fds[0])
        // fds[1] stays open, unused, until the process ends.
        guard first else { return }
        atexit {
            for (folder, environment) in Cleanup.lock.withLock({ Cleanup.folders }) {
                _ = try? ProcessRunner.run("/bin/bash", [RepositoryPaths.file("ops/pglocal"), "destroy", folder], environment: environment)
            }
        }
    }
}
