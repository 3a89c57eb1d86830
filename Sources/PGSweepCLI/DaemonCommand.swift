import ArgumentParser
import Foundation
import LibPQ
import Logging
import PGSweep

extension PGSweepRoot {
    /// `pgsweep daemon`.
    struct Daemon: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run as a long-lived scheduler until SIGTERM or SIGINT.",
            discussion: """
                Sleeps until the next fire time of any enabled job, runs what is due, repeats. \
                SIGTERM/SIGINT: the current batch commits or rolls back, the run is recorded, exit \
                143/130. SIGHUP re-reads the configuration; an invalid one is logged and the old kept. \
                With metrics.listen set, serves GET /metrics and GET /healthz there.
                """)

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let context = try CommandContext(options: global)
            let shutdown = Shutdown()
            SignalWatcher.install(shutdown)
            let environment = ProcessInfo.processInfo.environment
            let logger = context.logger
            var server: MetricsServer?
            if let listen = context.config.metrics.listen {
                let config = context.config
                server = MetricsServer(config: config, logger: logger) { try config.connect(logger: logger) }
                try server?.start(host: listen.host, port: listen.port)
            }
            defer { server?.schedulerStopped() }
            try Scheduler(
                config: context.config, logger: logger, shutdown: shutdown,
                connect: { try $0.connect(logger: logger) },
                reload: { [file = context.config.file] in try ConfigLoader.load(path: file, environment: environment) },
                afterCycle: { config in MetricsExporter.export(config: config, logger: logger) { try config.connect(logger: logger) } }
            ).run()
            throw ExitCode((SignalWatcher.exitStatus(shutdown) ?? .success).rawValue)
        }
    }
}
