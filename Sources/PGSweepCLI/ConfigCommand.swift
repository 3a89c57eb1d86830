import ArgumentParser
import Foundation
import PGSweep

extension PGSweepRoot {
    /// `pgsweep config check`.
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate the configuration.", subcommands: [Check.self])

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate the configuration and print each job's next fire times (no database needed).")

            @OptionGroup var global: GlobalOptions

            @Flag(help: "Print JSON.")
            var json = false

            @Option(help: "Count fire times after this ISO 8601 time (default: now); without an offset it is read in the configured time zone.")
            var from: String?

            @Option(help: "How many fire times per job.")
            var count = 3

            func validate() throws {
                guard (1...1000).contains(count) else { throw ValidationError("--count must be from 1 to 1000, got \(count)") }
            }

            func run() throws {
                let context = try CommandContext(options: global)
                let zone = context.config.timeZone
                var start = Date()
                if let from {
                    guard let parsed = TimeText.parse(from, zone: zone) else {
                        throw ValidationError("--from: expected an ISO 8601 time such as 2026-11-29T03:00:00Z, got \(from.debugDescription)")
                    }
                    start = parsed
                }
                let formatter = ISO8601DateFormatter()
                formatter.timeZone = zone
                let report = context.config.jobs.map { job in
                    JobFireTimes(
                        name: job.name, type: job.type.rawValue, schedule: job.schedule.text, enabled: job.enabled,
                        next: job.schedule.fireTimes(after: start, count: count, in: zone).map(formatter.string(from:)))
                }
                if json {
                    try JSONOutput.print(ConfigReport(
                        file: context.config.file, timezone: context.config.timeZoneName, from: formatter.string(from: start), jobs: report))
                    return
                }
                print("\(context.config.file): valid; \(report.count) job\(report.count == 1 ? "" : "s"), times in \(context.config.timeZoneName)")
                for job in report {
                    print("\(job.name) (\(job.type), \"\(job.schedule)\"\(job.enabled ? "" : ", disabled"))")
                    job.next.forEach { print("  \($0)") }
                }
            }
        }
    }

    struct ConfigReport: Encodable {
        var file: String
        var timezone: String
        var from: String
        var jobs: [JobFireTimes]
    }

    struct JobFireTimes: Encodable {
        var name: String
        var type: String
        var schedule: String
        var enabled: Bool
        var next: [String]
    }
}

/// Reads times given on the command line.
enum TimeText {
    /// ISO 8601 with `Z` or an offset; without one, or date only, in `zone`.
    static func parse(_ text: String, zone: TimeZone) -> Date? {
        let withZone = ISO8601DateFormatter()
        if let date = withZone.date(from: text) { return date }
        withZone.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withZone.date(from: text) { return date }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = zone
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return date }
        }
        return nil
    }
}
