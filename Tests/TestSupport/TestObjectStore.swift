import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The throwaway S3-compatible store shared by one test run: moto's server with
/// authentication on, started by `ops/s3local` on first use and stopped when the test
/// process ends in any way. A test that needs it fails, never skips, when it cannot start.
public final class TestObjectStore: Sendable {
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    public let bucket: String
    public let accessKeyID: String
    public let secretAccessKey: String
    public let region: String

    public static let shared: Result<TestObjectStore, TestClusterError> = {
        do throws(TestClusterError) { return .success(try start()) } catch { return .failure(error) }
    }()

    /// The shared store, or a thrown error that fails the calling test.
    public static func get() throws -> TestObjectStore { try shared.get() }

    init(settings: [String: String]) throws(TestClusterError) {
        guard let endpoint = settings["S3_ENDPOINT"], let bucket = settings["S3_BUCKET"], let key = settings["AWS_ACCESS_KEY_ID"],
            let secret = settings["AWS_SECRET_ACCESS_KEY"], let region = settings["AWS_REGION"]
        else { throw TestClusterError(reason: "ops/s3local printed incomplete settings: \(settings.keys.sorted())") }
        self.endpoint = endpoint
        self.bucket = bucket
        accessKeyID = key
        secretAccessKey = secret
        self.region = region
    }

    /// The environment a pgsweep process needs to reach the store (credentials and region).
    public func environment(secret: String? = nil) -> [String: String] {
        ["AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secret ?? secretAccessKey, "AWS_REGION": region]
    }

    /// The store's TCP port.
    public var port: Int { Int(endpoint.split(separator: ":").last ?? "") ?? 0 }

    /// A prefix no other test uses.
    public static func uniquePrefix(_ name: String) -> String { "\(name)-\(UInt32.random(in: 0...UInt32.max))/" }

    private static func start() throws(TestClusterError) -> TestObjectStore {
        let folder = "/tmp/pgsw-s3-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let output: ProcessOutput
        do {
            output = try ProcessRunner.run("/bin/bash", [RepositoryPaths.file("ops/s3local"), "start", folder])
        } catch {
            throw TestClusterError(reason: "could not run ops/s3local: \(error)")
        }
        guard output.status == 0 else {
            throw TestClusterError(reason: "ops/s3local start failed (exit \(output.status)):\n\(output.all)")
        }
        stopAtExit(folder)
        return try TestObjectStore(settings: output.assignments)
    }

    /// A watchdog stops the store when this process ends, however it ends: it waits on a
    /// pipe whose write end only this process holds.
    private static func stopAtExit(_ folder: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = try? ProcessRunner.spawn(
            "/bin/bash", ["-c", "read -r _ || true; exec /bin/bash \"$0\" stop \"$1\"", RepositoryPaths.file("ops/s3local"), folder],
            environment: ProcessInfo.processInfo.environment, stdinFD: fds[0],
            stdoutPath: "/dev/null", stderrPath: "/dev/null", newSession: true)
        close(fds[0])
    }
}
