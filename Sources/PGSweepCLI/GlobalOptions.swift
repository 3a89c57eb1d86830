import ArgumentParser
import PGSweep

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $PGSWEEP_CONFIG, else ./jobs.yaml).")
    var config: String?

    @Option(name: .long, help: "Log format: text or json (default: json unless stdout is a terminal).")
    var logFormat: LogFormatOption?
}

/// `--log-format` values.
enum LogFormatOption: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
