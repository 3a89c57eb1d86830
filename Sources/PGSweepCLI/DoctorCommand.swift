import ArgumentParser
import PGSweep

extension PGSweepRoot {
    /// `pgsweep doctor`.
    struct Doctor: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the connection, server version, indexes, pgstattuple and the archive directory.")

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let context = try CommandContext(options: global)
            let connection = try context.connect()
            let checks = try PGSweep.Doctor(config: context.config, logger: context.logger).run(on: connection)
            let width = checks.map(\.name.count).max() ?? 0
            for check in checks {
                let name = check.name.padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(check.outcome.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(name)  \(check.detail)")
            }
            if checks.contains(where: { $0.outcome == .problem }) { throw ExitCode(ExitStatus.failure.rawValue) }
        }
    }
}
