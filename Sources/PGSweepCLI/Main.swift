import ArgumentParser
import Foundation
import LibPQ
import PGSweep
import Zstd
import ArchiveFormat

/// Parses the command line, runs the command, and maps every outcome to a documented exit code.
@main
enum Main {
    static func main() {
        do {
            var command = try PGSweepRoot.parseAsRoot()
            try command.run()
            exit(ExitStatus.success.rawValue)
        } catch {
            exit(report(error))
        }
    }

    /// Prints what `error` means for the user and returns the exit code it maps to.
    static func report(_ error: any Error) -> Int32 {
        switch error {
        case let code as ExitCode:
            return code.rawValue
        case is ConfigError, is PostgresError, is PGSweepError, is ZstdError, is ArchiveDamage, is ArchiveError:
            printError("pgsweep: \(error)")
            return ExitStatus(for: error).rawValue
        default:
            // Help, version and usage errors from the argument parser, or something unexpected.
            let code = PGSweepRoot.exitCode(for: error)
            let message = PGSweepRoot.fullMessage(for: error)
            if code == .success {
                print(message)
                return ExitStatus.success.rawValue
            }
            // One prefix for every error, the argument parser's included.
            printError(message.hasPrefix("Error: ") ? "pgsweep: " + message.dropFirst("Error: ".count) : message)
            return code == .validationFailure ? ExitStatus.usage.rawValue : ExitStatus(for: error).rawValue
        }
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data("\(text)\n".utf8))
    }
}
