import Foundation
import TestSupport

/// Runs the built `pgsweep` executable.
enum CLI {
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
        var env = ProcessInfo.processInfo.environment
        // Keep the developer's PG* settings out of the child: each test says what it wants.
        for key in env.keys where key.hasPrefix("PG") { env[key] = nil }
        env.merge(environment) { $1 }
        return try ProcessRunner.run(RepositoryPaths.executable("pgsweep"), arguments, environment: env)
    }
}
