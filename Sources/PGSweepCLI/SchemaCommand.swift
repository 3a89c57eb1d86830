import ArgumentParser
import PGSweep

extension PGSweepRoot {
    /// `pgsweep schema apply|check`.
    struct Schema: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or check pgsweep's own tables and the V007 indexes.",
            subcommands: [Apply.self, Check.self]
        )

        /// `pgsweep schema apply`.
        struct Apply: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create pgsweep's schema and any missing V007 index (safe to run again).")

            @OptionGroup var global: GlobalOptions

            func run() throws {
                let context = try CommandContext(options: global)
                let connection = try context.connect()
                let result = try context.schemaManager.apply(on: connection)
                print(
                    result.migrationsApplied.isEmpty
                        ? "pgsweep schema: up to date"
                        : "pgsweep schema: applied migration(s) \(result.migrationsApplied.map(String.init).joined(separator: ", "))")
                print(
                    result.indexesCreated.isEmpty
                        ? "indexes: none missing"
                        : "indexes: created \(result.indexesCreated.joined(separator: ", "))")
                if let statistics = result.statisticsCreated {
                    print("statistics: created \(statistics) (flow_name, status) and analyzed the table")
                }
                for (expected, existing) in result.indexesEquivalent {
                    print("  \(expected): valid (as \(existing), which has the same definition)")
                }
                if !result.indexesInvalid.isEmpty {
                    print(
                        "indexes left as they are (invalid or on another table): \(result.indexesInvalid.joined(separator: ", "))")
                    print("  an invalid index is a failed or running concurrent build; once no build runs, fix it with")
                    print("  REINDEX INDEX CONCURRENTLY <name>; (or DROP INDEX CONCURRENTLY <name>; and apply again)")
                    throw ExitCode(ExitStatus.failure.rawValue)
                }
            }
        }

        /// `pgsweep schema check`.
        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Report each expected index as valid, missing or invalid; exit 1 unless all are valid.")

            @OptionGroup var global: GlobalOptions

            func run() throws {
                let context = try CommandContext(options: global)
                let connection = try context.connect()
                let report = try context.schemaManager.check(on: connection)
                report.lines.forEach { print($0) }
                if !report.isHealthy { throw ExitCode(ExitStatus.failure.rawValue) }
            }
        }
    }
}
