import Foundation
import LibPQ
import Logging

/// A database of its own for one test, dropped afterwards, so tests run in parallel.
public struct TestDatabase: Sendable {
    public let cluster: TestCluster
    public let name: String

    /// A conninfo string for this database.
    public var conninfo: String { cluster.conninfo(database: name) }

    /// A new superuser connection to this database.
    public func connect(logger: Logger = TestLogging.silent) throws -> Connection {
        try cluster.connect(database: name, logger: logger)
    }

    /// Runs `body` with a fresh database, optionally holding the work-queue table; drops it after.
    /// By default on the shared cluster, with a new name.
    public static func with<T>(
        queueTable: Bool = false, cluster: TestCluster? = nil, name: String? = nil, _ body: (TestDatabase) async throws -> T
    ) async throws -> T {
        let cluster = try cluster ?? TestCluster.get()
        let name = name ?? "t_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        let admin = try cluster.connect()
        try admin.execute("CREATE DATABASE \(quoteIdentifier(name))")
        let database = TestDatabase(cluster: cluster, name: name)
        do {
            if queueTable { try database.createQueueTable() }
            let value = try await body(database)
            try admin.execute("DROP DATABASE \(quoteIdentifier(name)) WITH (FORCE)")
            return value
        } catch {
            _ = try? admin.execute("DROP DATABASE \(quoteIdentifier(name)) WITH (FORCE)")
            throw error
        }
    }

    /// Creates `processing_queue` from `ops/sql/processing_queue.sql` (without the V007 indexes).
    public func createQueueTable() throws {
        let sql = try String(contentsOfFile: RepositoryPaths.file("ops/sql/processing_queue.sql"), encoding: .utf8)
        try connect().executeScript(sql)
    }

    /// Applies the seed's V007 migration from `ops/sql`.
    public func applyV007() throws {
        let sql = try String(
            contentsOfFile: RepositoryPaths.file("ops/sql/V007__Add_processing_indexes.sql"), encoding: .utf8)
        try connect().executeScript(sql)
    }

    /// Writes a configuration file for this database and returns its path.
    public func writeConfig(_ extra: String = "", in folder: String) throws -> String {
        let path = "\(folder)/jobs.yaml"
        let text = """
            database:
              url: "\(conninfo)"
            \(extra)
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
