import Foundation
import TestSupport

/// Runs the built `pgsweep` executable.
enum CLI {
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
        try ProcessRunner.run(RepositoryPaths.executable("pgsweep"), arguments, environment: Self.environment(environment))
    }

    /// This process's environment without the developer's PG* settings (each test says what
    /// it wants), plus `extra`.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("PG") { env[key] = nil }
        env.merge(extra) { $1 }
        return env
    }
}
