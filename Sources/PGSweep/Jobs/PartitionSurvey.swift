import Foundation
import LibPQ

/// Which partitions of a RANGE-partitioned queue the archive job may take whole, and why
/// each of the others goes row by row.
///
/// A partition is a candidate when the table is partitioned by RANGE on `created_at` or on
/// `id` alone, the partition is a plain table (not itself partitioned, not the default
/// partition), it holds rows, and its whole range is older than the job's latest completed
/// cutoff: for `created_at`, its upper bound; for `id`, its newest `created_at`, with newer
/// ids already in the table (so no new row can land in it). A candidate is then taken whole
/// only if every one of its rows is archivable by the job's own rules, which
/// `PartitionArchiver` checks again once writers are kept out.
struct PartitionSurvey {
    /// One partition, and the way the archive takes it.
    struct Entry: Sendable {
        var name: QualifiedName
        var oid: Int64
        /// `FOR VALUES FROM (...) TO (...)`, as `pg_get_expr(relpartbound)` writes it.
        var bounds: String
        var whole: Bool
        /// Why the partition goes whole or row by row, in a few words.
        var reason: String
    }

    var entries: [Entry]
    /// Whether the table has a default partition (then DETACH cannot be CONCURRENTLY).
    var hasDefault: Bool
    /// Why no partition can go whole at all, if so.
    var none: String?

    /// The condition (with its parameters) a row must meet to be archivable in one of `job`'s
    /// passes, at `now`.
    static func archivable(_ job: ArchiveJob, now: Date) -> (sql: String, parameters: [(any PostgresBindable)?]) {
        var parameters: [(any PostgresBindable)?] = []
        let parts = FlowPass.passes(job.settings, flows: job.definition.flows).map { pass in
            let flow = pass.filter.condition(parameter: parameters.count + 1).map { "\($0) AND " } ?? ""
            parameters = pass.filter.appending(to: parameters)
            let completed = job.criteria(.completed, pass: pass, now: now).condition
            let failed = job.criteria(.failed, pass: pass, now: now).condition
            return "(\(flow)((\(completed)) OR (\(failed))))"
        }
        return ("(" + parts.joined(separator: " OR ") + ")", parameters)
    }

    /// What `partition` holds, in one statement: the status of a row that is not archivable
    /// (nil when none was found), and whether it has any row at all. For a job of one pass
    /// over every flow, index probes (the pending and processing indexes, the cleanup index
    /// for completed rows completed too recently, the failed-retry and status indexes for
    /// failed rows with retries left or created too recently), which cost the same on any
    /// size of partition; otherwise a scan that stops at the first such row. The copy checks
    /// every row again either way.
    static func contents(
        _ job: ArchiveJob, in partition: String, now: Date, on connection: Connection
    ) throws -> (unfinished: String?, empty: Bool) {
        let passes = FlowPass.passes(job.settings, flows: job.definition.flows)
        let probe: String
        let parameters: [(any PostgresBindable)?]
        if passes.count == 1, let pass = passes.first, pass.filter == .all {
            probe = """
                SELECT CASE
                    WHEN EXISTS (SELECT 1 FROM ONLY \(partition) WHERE status = 'pending') THEN 'pending'
                    WHEN EXISTS (SELECT 1 FROM ONLY \(partition) WHERE status = 'processing') THEN 'processing'
                    WHEN EXISTS (SELECT 1 FROM ONLY \(partition) WHERE status = 'completed' AND completed_at >= $1) THEN 'completed'
                    WHEN EXISTS (SELECT 1 FROM ONLY \(partition) WHERE status = 'completed' AND completed_at IS NULL) THEN 'completed'
                    WHEN EXISTS (SELECT 1 FROM ONLY \(partition) WHERE status = 'failed' AND retry_count < $2) THEN 'failed'
                    WHEN EXISTS (SELECT 1 FROM ONLY \(partition) WHERE status = 'failed' AND created_at >= $3) THEN 'failed'
                    END
                """
            parameters = [
                now.addingTimeInterval(-pass.settings.completedBefore.seconds), pass.settings.maxRetries,
                now.addingTimeInterval(-pass.settings.failedBefore.seconds),
            ]
        } else {
            let (condition, conditionParameters) = archivable(job, now: now)
            probe = "SELECT status FROM ONLY \(partition) WHERE \(condition) IS NOT TRUE LIMIT 1"
            parameters = conditionParameters
        }
        let row = try connection.query(
            "SELECT (\(probe)) AS status, NOT EXISTS (SELECT 1 FROM ONLY \(partition)) AS empty", parameters)[0]
        return (try row.decode(String.self, "status"), try row.require(Bool.self, "empty"))
    }

    /// Whether `queue` has a default partition.
    static func hasDefault(_ queue: QueueTable, on connection: Connection) throws -> Bool {
        try connection.query(
            "SELECT coalesce((SELECT partdefid <> 0 FROM pg_partitioned_table WHERE partrelid = $1::oid), false) AS d", [Int64(queue.oid)]
        )[0].require(Bool.self, "d")
    }

    /// Surveys `queue`'s partitions for `job` at `now`; `onWhole` gets each partition to take
    /// whole as soon as it is known, so its copy can start while the rest are surveyed.
    static func read(
        _ job: ArchiveJob, queue: QueueTable, now: Date, on connection: Connection, onWhole: (Entry) throws -> Void = { _ in }
    ) throws -> PartitionSurvey {
        guard queue.isPartitioned else { return PartitionSurvey(entries: [], hasDefault: false, none: "the table is not partitioned") }
        let shape = try connection.query(
            "SELECT partstrat::text AS strategy, partnatts::int4 AS columns, partdefid <> 0 AS has_default FROM pg_partitioned_table WHERE partrelid = $1::oid",
            [Int64(queue.oid)])[0]
        let hasDefault = try shape.require(Bool.self, "has_default")
        guard try shape.require(String.self, "strategy") == "r", try shape.require(Int32.self, "columns") == 1,
            let key = queue.partitionKey.first, key == "created_at" || key == "id"
        else {
            return PartitionSurvey(
                entries: [], hasDefault: hasDefault,
                none: "partitions go whole only on a table partitioned BY RANGE (created_at) or BY RANGE (id); rows go one by one")
        }
        // Freezing, detaching and dropping a partition take the table's owner (MAINTAIN does
        // not cover them): without it every partition goes row by row instead of failing the run.
        let owns = try connection.query(
            "SELECT pg_has_role(current_user, relowner, 'USAGE') AS owns FROM pg_class WHERE oid = $1::oid", [Int64(queue.oid)]
        ).first?.decode(Bool.self, "owns") ?? false
        guard owns else {
            return PartitionSurvey(
                entries: [], hasDefault: hasDefault,
                none: "the role does not own the table (nor is a member of its owner), which freezing, detaching and dropping partitions take: rows go one by one")
        }
        // A partition a foreign key references cannot be detached (PostgreSQL refuses while
        // the key's table refers to it, 23503), so it must never be frozen to be taken whole.
        if let references = try ReferencingKeys.read(queue, evenCascading: true, on: connection).description {
            return PartitionSurvey(
                entries: [], hasDefault: hasDefault,
                none: "a foreign key references the table (\(references)): a partition it references cannot be detached, so rows go one by one")
        }
        // The latest completed cutoff of the job's passes: a partition must end before it.
        let passes = FlowPass.passes(job.settings, flows: job.definition.flows)
        let shortest = passes.map(\.settings.completedBefore.seconds).min() ?? 0
        let cutoff = now.addingTimeInterval(-shortest)
        var entries: [Entry] = []
        let partitions = try connection.query(
            """
            SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind::text AS kind, pg_get_expr(c.relpartbound, c.oid) AS bounds
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.inhparent = $1::oid AND NOT i.inhdetachpending ORDER BY c.relname
            """, [Int64(queue.oid)])
        // For created_at, which upper bounds lie before the cutoff, all in one statement.
        var endsBefore: [String: Bool] = [:]
        if key == "created_at" {
            let uppers = Set(try partitions.compactMap { Self.upperBound(try $0.require(String.self, "bounds")) })
            for row in try connection.query(
                "SELECT b, b::timestamptz <= $2 AS ends FROM unnest($1::text[]) AS b", [Array(uppers), cutoff])
            {
                endsBefore[try row.require(String.self, "b")] = try row.require(Bool.self, "ends")
            }
        }
        for row in partitions {
            let name = QualifiedName(schema: try row.require(String.self, "nspname"), name: try row.require(String.self, "relname"))
            let bounds = try row.require(String.self, "bounds")
            var entry = Entry(name: name, oid: try row.require(Int64.self, "oid"), bounds: bounds, whole: false, reason: "")
            defer { entries.append(entry) }
            if try row.require(String.self, "kind") != "r" {
                entry.reason = "partitioned itself: its rows go one by one"
                continue
            }
            guard let upper = Self.upperBound(bounds) else {
                entry.reason = bounds == "DEFAULT" ? "the default partition" : "its range has no upper end"
                continue
            }
            let ends: Bool
            if key == "created_at" {
                ends = endsBefore[upper] ?? false
                if !ends { entry.reason = "its range ends at \(upper), after the cutoff \(PostgresTimestamp.format(cutoff))" }
            } else {
                let newest = try connection.query(
                    """
                    SELECT greatest(
                        (SELECT max(created_at) FROM ONLY \(name.quoted) WHERE status = 'pending'),
                        (SELECT max(created_at) FROM ONLY \(name.quoted) WHERE status = 'processing'),
                        (SELECT max(created_at) FROM ONLY \(name.quoted) WHERE status = 'completed'),
                        (SELECT max(created_at) FROM ONLY \(name.quoted) WHERE status = 'failed')) < $1
                        AND EXISTS (SELECT 1 FROM \(queue.name.quoted) WHERE id >= $2::bigint) AS ends
                    """, [cutoff, upper])[0].decode(Bool.self, "ends")
                ends = newest == true
                if !ends { entry.reason = "it holds rows created after the cutoff \(PostgresTimestamp.format(cutoff)), or new ids still land in it" }
            }
            guard ends else { continue }
            let contents = try Self.contents(job, in: name.quoted, now: now, on: connection)
            if let status = contents.unfinished {
                entry.reason = "it holds rows not archivable yet (a \(status) row, at least): archivable rows go one by one"
            } else if contents.empty {
                entry.reason = "empty"
            } else {
                entry.whole = true
                entry.reason = "every row is archivable"
                try onWhole(entry)
            }
        }
        return PartitionSurvey(entries: entries, hasDefault: hasDefault, none: nil)
    }

    /// The upper bound of `FOR VALUES FROM (a) TO (b)` as text a cast takes (`2026-10-02
    /// 00:00:00+00`, `1000`); nil for MAXVALUE, DEFAULT, or bounds of another shape.
    static func upperBound(_ bounds: String) -> String? {
        guard let to = bounds.range(of: ") TO (", options: .backwards), bounds.hasSuffix(")") else { return nil }
        var value = String(bounds[to.upperBound..<bounds.index(before: bounds.endIndex)])
        guard value != "MAXVALUE", !value.contains(",") || value.hasPrefix("'") else { return nil }
        if value.hasPrefix("'") && value.hasSuffix("'") && value.count >= 2 {
            value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        return value
    }

    /// One line per partition, for `explain` and `--dry-run`.
    var lines: [String] {
        if let none { return [none] }
        return entries.map { "\($0.name): \($0.whole ? "whole" : "rows") (\($0.reason))" }
    }
}
