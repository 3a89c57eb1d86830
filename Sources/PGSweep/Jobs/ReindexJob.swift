import Foundation
import LibPQ

/// `reindex`: rebuilds bloated indexes of the table online, one at a time.
///
/// First drops, with `DROP INDEX CONCURRENTLY`, the invalid leftovers of earlier concurrent
/// rebuilds of this table's indexes (`<index>_ccnew`, `_ccnew1`..., `_ccold`...), and nothing
/// else: never a valid index, never another table's, never a name that only looks similar.
/// Then, most wasted bytes first and at most `max_indexes` per run, each index whose bloat
/// reaches `bloat_threshold` and whose size reaches `min_size` is rebuilt with
/// `REINDEX INDEX CONCURRENTLY` under the job's lock timeout. A rebuild that fails (lock or
/// statement timeout, cancel) has its new half-built index dropped and is reported; the job
/// goes on to the next. Refuses servers older than 12, and 14.0 to 14.3.
///
/// Emits rows `rebuilt` (indexes) and `dropped` (leftovers), and details with sizes.
struct ReindexJob: MaintenanceJob {
    let definition: JobDefinition
    let settings: ReindexSettings

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
        let leftovers = try Self.leftovers(table: context.table, on: connection)
        for leftover in leftovers {
            if context.dryRun {
                notes.append("would drop \(leftover)")
                result.rows["dropped", default: 0] += 1
                continue
            }
            try withTimeouts(context) {
                try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(QualifiedName(schema: context.table.schema ?? schemaOf(context), name: leftover).quoted)")
            }
            context.logger.info("dropped an invalid leftover of an earlier rebuild", metadata: [LogKey.index: .string(leftover)])
            result.rows["dropped", default: 0] += 1
            notes.append("dropped \(leftover)")
        }

        let measured = try IndexBloat.measure(table: context.table, on: connection)
        let candidates = measured
            .filter { $0.valid && ($0.bloat ?? 0) >= settings.bloatThreshold && $0.sizeBytes >= settings.minSize }
            .sorted { $0.wastedBytes > $1.wastedBytes }
            .prefix(settings.maxIndexes)
        var failures: [String] = []
        for index in candidates {
            if context.shutdown.isRequested {
                result.interrupted = true
                break
            }
            let figure = "\(index.name) \(ByteSize.format(index.sizeBytes)), bloat \(Int((index.bloat ?? 0) * 100))% (\(index.method.rawValue))"
            if context.dryRun {
                notes.append("would rebuild \(figure)")
                result.rows["rebuilt", default: 0] += 1
                continue
            }
            let qualified = QualifiedName(schema: context.table.schema ?? schemaOf(context), name: index.name)
            let before = try Self.invalidNames(table: context.table, on: connection)
            do {
                context.shutdown.setActiveStatement(connection.cancelHandle())
                defer { context.shutdown.setActiveStatement(nil) }
                try withTimeouts(context) { try connection.execute("REINDEX INDEX CONCURRENTLY \(qualified.quoted)") }
                let after = try connection.query("SELECT pg_relation_size($1::regclass)", [qualified.quoted])[0].decode(Int64.self, at: 0) ?? 0
                context.logger.info(
                    "rebuilt an index",
                    metadata: [LogKey.index: .string(index.name), "size.before": .stringConvertible(index.sizeBytes),
                               "size.after": .stringConvertible(after)])
                notes.append("rebuilt \(figure) -> \(ByteSize.format(after))")
                result.rows["rebuilt", default: 0] += 1
                result.batches += 1
            } catch let error as PostgresError where !error.isConnectionLost {
                // The failed rebuild leaves a new, invalid index behind that every write keeps
                // updating: drop it now.
                let left = try Self.invalidNames(table: context.table, on: connection).subtracting(before)
                for name in left.sorted() where Self.isLeftover(name, of: [index.name]) {
                    try withTimeouts(context) {
                        try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(QualifiedName(schema: qualified.schema, name: name).quoted)")
                    }
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
        result.details["indexes"] = measured.map {
            "\($0.name) \(ByteSize.format($0.sizeBytes)) \($0.bloat.map { "\(Int($0 * 100))%" } ?? "?") \($0.method.rawValue)"
        }.joined(separator: "; ")
        result.details["actions"] = notes.isEmpty ? "nothing to do" : notes.joined(separator: "; ")
        context.logger.info(context.dryRun ? "reindex plan" : "reindex done", metadata: ["actions": .string(result.details["actions"]!)])
        if !failures.isEmpty {
            throw PGSweepError.checkFailed("\(failures.count) rebuild(s) failed: \(failures.joined(separator: "; "))")
        }
        return result
    }

    /// Runs `body` outside any transaction with the job's lock timeout and a statement
    /// timeout of the job's own `statement_timeout`, else `max_runtime`.
    private func withTimeouts(_ context: JobContext, _ body: () throws -> Void) throws {
        let timeout = context.limits.statementTimeout ?? context.limits.maxRuntime
        try context.connection.execute(
            "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
            [timeout.postgresSetting, context.lockTimeout.postgresSetting])
        defer {
            _ = try? context.connection.execute(
                "SELECT set_config('statement_timeout', $1, false)", [context.statementTimeout.postgresSetting])
        }
        try body()
    }

    private func schemaOf(_ context: JobContext) -> String {
        (try? context.connection.query(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
            [context.table.quoted]).first?.decode(String.self, at: 0)) ?? "public"
    }

    /// Names of invalid indexes on the table.
    static func invalidNames(table: QualifiedName, on connection: Connection) throws -> Set<String> {
        Set(try connection.query(
            """
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = to_regclass($1) AND NOT i.indisvalid
            """, [table.quoted]).map { try $0.decode(String.self, at: 0)! })
    }

    /// Invalid leftovers of concurrent rebuilds of this table's indexes.
    static func leftovers(table: QualifiedName, on connection: Connection) throws -> [String] {
        let rows = try connection.query(
            """
            SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = to_regclass($1)
            """, [table.quoted])
        var valid: [String] = []
        var invalid: [String] = []
        for row in rows {
            let name = try row.decode(String.self, at: 0)!
            if try row.decode(Bool.self, at: 1)! { valid.append(name) } else { invalid.append(name) }
        }
        let all = valid + invalid
        return invalid.filter { isLeftover($0, of: all) }.sorted()
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

