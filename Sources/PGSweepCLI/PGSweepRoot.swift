import ArgumentParser
import PGSweep

/// `pgsweep`: keeps a PostgreSQL work-queue table healthy.
struct PGSweepRoot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgsweep",
        abstract: "Keeps a PostgreSQL work-queue table healthy.",
        discussion: """
            Exit codes: 0 success; 1 a job or check failed; 2 bad usage or configuration; \
            3 database unreachable; 4 damaged or missing archive data; 130/143 stopped by \
            SIGINT/SIGTERM.
            """,
        version: PGSweepVersion.current,
        subcommands: [Run.self, Daemon.self, Status.self, History.self, Explain.self, Archive.self, Restore.self, Config.self, Schema.self, Doctor.self, Metrics.self]
    )

    @OptionGroup var global: GlobalOptions
}
