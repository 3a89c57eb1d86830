import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a finished child process left behind.
public struct ProcessOutput: Sendable {
    /// The exit code, or 128 + the signal number when a signal ended it.
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// stdout and stderr together, for assertions that something appears nowhere.
    public var all: String { stdout + stderr }

    /// `NAME=value` lines of stdout (what `ops/pglocal` and `ops/s3local` print), by name.
    public var assignments: [String: String] {
        var settings: [String: String] = [:]
        for line in stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { settings[String(parts[0])] = String(parts[1]) }
        }
        return settings
    }
}

/// Runs child processes with posix_spawn, output captured in temporary files (no pipe
/// deadlocks), reaped with waitpid.
public enum ProcessRunner {
    /// Runs `executable` with `arguments` to completion.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil
    ) throws -> ProcessOutput {
        try start(executable, arguments, environment: environment).wait()
    }

    /// Starts `executable` and returns at once; `wait()` collects the result.
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil
    ) throws -> RunningProcess {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pgsweep-proc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pid = try spawn(
            executable, arguments, environment: environment ?? ProcessInfo.processInfo.environment,
            stdinPath: "/dev/null", stdoutPath: "\(folder)/stdout", stderrPath: "\(folder)/stderr")
        return RunningProcess(pid: pid, folder: folder)
    }

    /// Spawns a process; `stdinFD`, when given, becomes its standard input.
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String],
        stdinPath: String? = nil, stdinFD: Int32? = nil, stdoutPath: String, stderrPath: String,
        newSession: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdinFD {
            posix_spawn_file_actions_adddup2(&actions, stdinFD, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc, needs _GNU_SOURCE, so not imported): 0x80.
        if newSession { posix_spawnattr_setflags(&attributes, 0x80) }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw ProcessRunnerError(message: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        return pid
    }
}

/// A child process could not be started or waited for.
public struct ProcessRunnerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A child process started by `ProcessRunner.start`.
public final class RunningProcess: Sendable {
    public let pid: pid_t
    let folder: String

    init(pid: pid_t, folder: String) {
        self.pid = pid
        self.folder = folder
    }

    /// Sends `signal` to the process.
    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Whether the process is stopped (by SIGSTOP), as /proc says.
    public var isStopped: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first == "T"
    }

    /// What the process has written to stdout so far.
    public var stdoutSoFar: String { (try? String(contentsOfFile: "\(folder)/stdout", encoding: .utf8)) ?? "" }

    /// What the process has written to stderr so far.
    public var stderrSoFar: String { (try? String(contentsOfFile: "\(folder)/stderr", encoding: .utf8)) ?? "" }

    /// Waits for the process to end and returns its output.
    public func wait() throws -> ProcessOutput {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw ProcessRunnerError(message: "waitpid failed: \(String(cString: strerror(errno)))")
            }
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProcessOutput(status: code, stdout: stdoutSoFar, stderr: stderrSoFar)
    }
}
