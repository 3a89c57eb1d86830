import Foundation
import LibPQ

/// `reindex`: rebuilds bloated indexes of the table online, one at a time.
///
/// First drops, with `DROP INDEX CONCURRENTLY`, the invalid leftovers of earlier concurrent
/// rebuilds of this table's indexes (`<index>_ccnew`, `_ccnew1`..., `_ccold`...), and nothing
/// else: never a valid index, never another table's, never a name that only looks similar.
/// Then, most wasted bytes first, each index whose bloat reaches `bloat_threshold` and whose
/// size reaches `min_size` is rebuilt with `REINDEX INDEX CONCURRENTLY` under the job's lock
/// timeout, one at a time, until none is left, `max_runtime` passes (no rebuild starts
/// after it), or the optional `max_indexes` cap is reached. On a partitioned table each
/// partition's indexes are measured and rebuilt on their own. A rebuild that fails (lock or
/// statement timeout, cancel) has its new half-built index dropped and is reported; the job
/// goes on to the next. Refuses servers older than 12, and 14.0 to 14.3.
///
/// Emits rows `rebuilt` (indexes) and `dropped` (leftovers), and details with sizes.
struct ReindexJob: PlainRegisteredJob {
    let definition: JobDefinition
    let settings: PerFlow<Settings>

    let requiredColumns: [String] = []
    let explainNote = "reads pg_index and pgstatindex (or the statistics); no batch query"

    static let type = JobType.reindex
    static let touchesRows = false
    static let needs: TableNeeds = [.maintain]


    /// The job's own keys, with their defaults.
    struct Settings: JobSettingsReading, Equatable {
        /// `bloat_threshold` (ratio, default: 0.3): share of an index's file holding no live entries.
        var bloatThreshold: Double = 0.3
        /// `min_size` (size, default: 10MB): smaller indexes are never rebuilt.
        var minSize: Int64 = 10 << 20
        /// `max_indexes` (int, optional): at most this many rebuilds per run, most wasted bytes
        /// first. Defaults to no cap: every index over the threshold, bounded by `max_runtime`.
        var maxIndexes: Int?

        static let keys = ["bloat_threshold", "min_size", "max_indexes"]
        static let flowKeys: [String] = []

        init(limits: JobLimits) {}

        mutating func read(_ key: String, _ value: ConfigValue) {
            switch key {
            case "bloat_threshold": bloatThreshold = value.ratio() ?? bloatThreshold
            case "min_size": minSize = value.byteSize() ?? minSize
            case "max_indexes": maxIndexes = value.positiveInt() ?? maxIndexes
            default: break
            }
        }
    }

    func run(_ context: JobContext) throws -> JobResult {
        let connection = context.connection
        let version = connection.serverVersion
        guard version >= 120000 else {
            throw PGSweepError.checkFailed("REINDEX CONCURRENTLY needs PostgreSQL 12 or later; this server is \(version)")
        }
        guard !(140000..<140004).contains(version) else {
            throw PGSweepError.checkFailed(
                "PostgreSQL 14.0 to 14.3 can corrupt indexes built CONCURRENTLY; upgrade to 14.4 or later before reindexing")
        }
        var result = JobResult()
        var notes: [String] = []
        let started = context.clock.now()
        let leftovers = try Self.leftovers(table: context.table, on: connection)
        for leftover in leftovers {
            if context.dryRun {
                notes.append("would drop \(leftover.name)")
                result.rows["dropped", default: 0] += 1
                continue
            }
            try withTimeouts(context) { try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(leftover.qualified)") }
            try context.progress?.recordCommitted(RunCounts(rows: ["dropped": 1]), on: connection)
            context.logger.info("dropped an invalid leftover of an earlier rebuild", metadata: [LogKey.index: .string(leftover.name)])
            result.rows["dropped", default: 0] += 1
            notes.append("dropped \(leftover.name)")
        }

        let measured = try IndexBloat.measure(table: context.table, on: connection)
        let candidates = measured
            .filter { $0.valid && ($0.bloat ?? 0) >= settings.base.bloatThreshold && $0.sizeBytes >= settings.base.minSize }
            .sorted { $0.wastedBytes > $1.wastedBytes }
            .prefix(settings.base.maxIndexes ?? Int.max)
        var failures: [String] = []
        for index in candidates {
            if context.shutdown.isRequested {
                result.interrupted = true
                break
            }
            if context.clock.now().timeIntervalSince(started) >= context.limits.maxRuntime.seconds {
                notes.append("max_runtime reached; the rest wait for the next run")
                break
            }
            switch try context.waitForThrottle(deadline: started.addingTimeInterval(context.limits.maxRuntime.seconds)) {
            case .go: break
            case .shutdown:
                result.interrupted = true
            case .deadline(let signal):
                notes.append("max_runtime reached while throttled by \(signal); the rest wait for the next run")
            }
            if result.interrupted || context.throttle?.endedBy != nil { break }
            let figure = "\(index.name) \(ByteSize.format(index.sizeBytes)), bloat \(Int((index.bloat ?? 0) * 100))% (\(index.method.rawValue))"
            if context.dryRun {
                notes.append("would rebuild \(figure)")
                result.rows["rebuilt", default: 0] += 1
                continue
            }
            let before = try Self.invalidNames(table: context.table, on: connection)
            do {
                context.shutdown.setActiveStatement(connection.cancelHandle())
                defer { context.shutdown.setActiveStatement(nil) }
                try withTimeouts(context) { try connection.execute("REINDEX INDEX CONCURRENTLY \(index.qualifiedName)") }
                try context.progress?.recordCommitted(RunCounts(rows: ["rebuilt": 1], batches: 1), on: connection)
                let after = try connection.query("SELECT pg_relation_size($1::regclass) AS size", [index.qualifiedName])[0]
                    .require(Int64.self, "size")
                context.logger.info(
                    "rebuilt an index",
                    metadata: [LogKey.index: .string(index.name), LogKey.sizeBefore: .stringConvertible(index.sizeBytes),
                               LogKey.sizeAfter: .stringConvertible(after)])
                notes.append("rebuilt \(figure) -> \(ByteSize.format(after))")
                result.rows["rebuilt", default: 0] += 1
                result.batches += 1
            } catch let error as PostgresError where !error.isConnectionLost {
                // The failed rebuild leaves a new, invalid index behind that every write keeps
                // updating: drop it now.
                let left = try Self.invalidNames(table: context.table, on: connection).filter { !before.keys.contains($0.key) }
                for (name, qualified) in left.sorted(by: { $0.key < $1.key }) where Self.isLeftover(name, of: [index.name]) {
                    try withTimeouts(context) { try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(qualified)") }
                }
                context.logger.error(
                    "rebuild failed; its half-built index was dropped",
                    metadata: [LogKey.index: .string(index.name), LogKey.error: "\(error)"])
                failures.append("\(index.name): \(error)")
                notes.append("failed \(figure): \(error.message)")
                if context.shutdown.isRequested {
                    result.interrupted = true
                    break
                }
            }
        }
        // Each index's bloat as JSON, for the index bloat gauge (read from the last run, never
        // measured per scrape).
        let bloat = Dictionary(measured.compactMap { index in index.bloat.map { (index.name, $0) } }, uniquingKeysWith: { a, _ in a })
        if let json = try? JSONSerialization.data(withJSONObject: bloat, options: [.sortedKeys]) {
            result.details["bloat"] = String(decoding: json, as: UTF8.self)
        }
        result.details["indexes"] = measured.map {
            "\($0.name) \(ByteSize.format($0.sizeBytes)) \($0.bloat.map { "\(Int($0 * 100))%" } ?? "?") \($0.method.rawValue)"
        }.joined(separator: "; ")
        let actions = notes.isEmpty ? "nothing to do" : notes.joined(separator: "; ")
        result.details["actions"] = actions
        context.logger.info(context.dryRun ? "reindex plan" : "reindex done", metadata: [LogKey.actions: .string(actions)])
        if !failures.isEmpty {
            throw PGSweepError.checkFailed("\(failures.count) rebuild(s) failed: \(failures.joined(separator: "; "))")
        }
        return result
    }

    /// Runs `body` outside any transaction with the job's lock timeout and a statement
    /// timeout of the job's own `statement_timeout`, else `max_runtime`; both are put back
    /// afterwards.
    private func withTimeouts(_ context: JobContext, _ body: () throws -> Void) throws {
        let timeout = context.limits.statementTimeout ?? context.limits.maxRuntime
        try context.connection.withSettings(
            [("statement_timeout", timeout.postgresSetting), ("lock_timeout", context.lockTimeout.postgresSetting)], body)
    }

    /// Invalid indexes of the table (of every partition, when partitioned): name → name as SQL.
    static func invalidNames(table: QualifiedName, on connection: Connection) throws -> [String: String] {
        var names: [String: String] = [:]
        for row in try connection.query(
            """
            SELECT c.relname, c.oid::regclass::text AS qualified FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid IN (\(IndexBloat.leaves)) AND NOT i.indisvalid
            """, [table.quoted])
        {
            names[try row.require(String.self, "relname")] = try row.require(String.self, "qualified")
        }
        return names
    }

    /// Invalid leftovers of concurrent rebuilds of the table's indexes, with their names as SQL.
    static func leftovers(table: QualifiedName, on connection: Connection) throws -> [(name: String, qualified: String)] {
        let rows = try connection.query(
            """
            SELECT c.relname, c.oid::regclass::text AS qualified, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid IN (\(IndexBloat.leaves))
            """, [table.quoted])
        var all: [String] = []
        var invalid: [(name: String, qualified: String)] = []
        for row in rows {
            let name = try row.require(String.self, "relname")
            all.append(name)
            if !(try row.require(Bool.self, "indisvalid")) { invalid.append((name, try row.require(String.self, "qualified"))) }
        }
        return invalid.filter { isLeftover($0.name, of: all) }.sorted { $0.name < $1.name }
    }

    /// True when `name` is `<base>_ccnew[N]` or `<base>_ccold[N]` for an index `base` in
    /// `indexes`; PostgreSQL cuts `base` short to keep the name within 63 bytes.
    static func isLeftover(_ name: String, of indexes: [String]) -> Bool {
        for marker in ["_ccnew", "_ccold"] {
            guard let range = name.range(of: marker, options: .backwards) else { continue }
            let digits = name[range.upperBound...]
            guard digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) else { continue }
            let base = String(name[..<range.lowerBound])
            guard !base.isEmpty else { continue }
            if indexes.contains(base) { return true }
            if name.utf8.count >= 62, indexes.contains(where: { $0 != name && $0.hasPrefix(base) }) { return true }
        }
        return false
    }
}

extension JobType {
    /// `reindex`: see `ReindexJob`.
    public static let reindex = JobType(rawValue: "reindex")
}
