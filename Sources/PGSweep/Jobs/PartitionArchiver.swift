import ArchiveFormat
import Foundation
import LibPQ
import Logging

/// The archive job's whole-partition path: an old partition whose every row is archivable is
/// copied into archive files, detached and dropped, with no per-row delete.
///
/// Steps, each leaving every row in the table or in ledgered files:
/// 1. **Freeze**: `ADD CONSTRAINT pgsweep_archiving CHECK (false) NOT VALID` on the partition
///    alone (a brief lock, under `lock_timeout`): from then on no row can be inserted into it
///    or updated in it, and no lock is held while it is copied.
/// 2. **Copy**, in one REPEATABLE READ transaction: every row is checked archivable again (any
///    that is not: the partition is unfrozen and goes row by row); the rows stream into files
///    of about `batch_size` rows (block ranges, `ctid`), each durable and published with its
///    manifest (which records the partition's name and bounds); then one `archive_partitions`
///    row (state `copied`) and the files' ledger rows; then commit.
/// 3. **Detach**: `DETACH PARTITION ... CONCURRENTLY` (PostgreSQL 14 on, no default
///    partition), else a plain `DETACH` under `lock_timeout`.
/// 4. **Drop**, in the transaction that marks the partition `dropped`, after checking it is
///    still detached, still frozen and holds no more rows than its files.
///
/// A run starts by finishing what an earlier one left (`recover`): it completes an
/// interrupted detach with `FINALIZE`, drops a detached partition whose files verify, and puts
/// back (re-attaches and unfreezes) one whose files do not.
struct PartitionArchiver {
    let job: ArchiveJob
    let queue: QueueTable
    let store: any ArchiveStore
    let context: JobContext

    /// The constraint that keeps writers out of a partition being archived.
    static let constraint = "pgsweep_archiving"

    var connection: Connection { context.connection }
    var logger: Logger { context.logger }
    var partitions: String { QualifiedName(schema: job.schema, name: "archive_partitions").quoted }
    var batches: String { QualifiedName(schema: job.schema, name: "archive_batches").quoted }

    /// What taking one partition did.
    struct Taken {
        var completed: Int64 = 0
        var failed: Int64 = 0
        var bytes: Int64 = 0
        var files = 0

        /// As a run records batches.
        var counts: RunCounts {
            RunCounts(rows: ["archived_completed": completed, "archived_failed": failed], bytes: bytes, batches: files)
        }
    }

    /// Takes each partition `survey` found whole; returns the rows and bytes archived.
    func run(_ survey: PartitionSurvey, batch: inout Int) throws -> Taken {
        var total = Taken()
        for entry in survey.entries where entry.whole {
            if context.shutdown.isRequested { break }
            // A long transaction on the table would hold up the freeze or the detach: leave
            // whole partitions to a later run (this run's rows go one by one).
            if let holder = try oldLockHolder(of: [Int64(queue.oid), entry.oid]) {
                logger.warning(
                    "partition busy: no partition taken whole this run, archivable rows go one by one",
                    metadata: [LogKey.partition: .string(entry.name.description), LogKey.reason: .string(holder)])
                break
            }
            guard try freeze(entry) else { continue }
            let copied: (id: Int64, taken: Taken)?
            do {
                copied = try copy(entry, batch: &batch)
            } catch {
                unfreeze(entry.name.quoted)
                throw error
            }
            guard let copied else {
                unfreeze(entry.name.quoted)
                continue
            }
            context.progress?.didCommit(copied.taken.counts)
            FaultInjection.point("partition-after-commit")
            total.completed += copied.taken.completed
            total.failed += copied.taken.failed
            total.bytes += copied.taken.bytes
            total.files += copied.taken.files
            let pending = Pending(id: copied.id, name: entry.name.quoted, bounds: entry.bounds, rows: copied.taken.completed + copied.taken.failed)
            // PostgreSQL allows one unfinished detach per table: stop at the first left for later.
            guard try finish(pending, hasDefault: survey.hasDefault, verifyFiles: false) else { break }
        }
        return total
    }

    /// A session other than this one holding a lock on one of `relations` in a transaction
    /// open longer than `lock_timeout`, described; nil when there is none. A concurrent
    /// detach waits for every transaction holding a lock on the table to end.
    func oldLockHolder(of relations: [Int64]) throws -> String? {
        try connection.query(
            """
            SELECT format('pid %s, in a transaction for %ss', a.pid, round(extract(epoch FROM now() - a.xact_start))) AS holder
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'relation' AND l.relation = ANY($1::int8[]::oid[]) AND l.granted AND l.pid <> pg_backend_pid()
              AND a.xact_start < now() - $2::interval
            ORDER BY a.xact_start LIMIT 1
            """, [relations, context.lockTimeout.postgresSetting]
        ).first?.decode(String.self, "holder")
    }

    /// Adds the freezing constraint; false (and a warning) when the partition's lock was not
    /// had within `lock_timeout`: its rows then go one by one.
    private func freeze(_ entry: PartitionSurvey.Entry) throws -> Bool {
        do {
            try connection.transaction { connection in
                try connection.set([("lock_timeout", context.lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute("ALTER TABLE \(entry.name.quoted) ADD CONSTRAINT \(Self.constraint) CHECK (false) NOT VALID")
            }
            return true
        } catch let error as PostgresError where error.sqlState == .lockNotAvailable {
            logger.warning(
                "partition busy: not taken whole this run, its archivable rows go one by one",
                metadata: [LogKey.partition: .string(entry.name.description), LogKey.error: .string(error.message)])
            return false
        }
    }

    /// Drops the freezing constraint, if there; a failure is logged (the next run retries).
    func unfreeze(_ name: String) {
        do {
            try connection.transaction { connection in
                try connection.set([("lock_timeout", context.lockTimeout.postgresSetting)], for: .transaction)
                try connection.execute("ALTER TABLE \(name) DROP CONSTRAINT IF EXISTS \(Self.constraint)")
            }
        } catch {
            logger.warning(
                "could not remove the archiving constraint; the next archive run removes it",
                metadata: [LogKey.partition: .string(name), LogKey.error: .string("\(error)")])
        }
    }

    /// Step 2: checks and copies the frozen partition; nil when some row is not archivable.
    private func copy(_ entry: PartitionSurvey.Entry, batch: inout Int) throws -> (id: Int64, taken: Taken)? {
        let (condition, parameters) = PartitionSurvey.archivable(job, now: context.startedAt)
        let part = entry.name.quoted
        var firstBatch = batch
        defer { batch = firstBatch }
        return try connection.transaction { connection in
            try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            try connection.set([("statement_timeout", context.statementTimeout.postgresSetting)], for: .transaction)
            let check = try connection.query(
                """
                SELECT count(*) AS total, count(*) FILTER (WHERE \(condition) IS NOT TRUE) AS unfinished,
                       count(*) FILTER (WHERE status = 'completed') AS completed,
                       (pg_relation_size($\(parameters.count + 1)::regclass) / current_setting('block_size')::int8) AS blocks
                FROM ONLY \(part)
                """, parameters + [part])[0]
            let total = try check.require(Int64.self, "total")
            let unfinished = try check.require(Int64.self, "unfinished")
            guard unfinished == 0, total > 0 else {
                logger.info(
                    "partition not taken whole: a row changed since it was surveyed",
                    metadata: [LogKey.partition: .string(entry.name.description), LogKey.rows: .stringConvertible(unfinished)])
                return nil
            }
            let blocks = try check.require(Int64.self, "blocks")
            let perFile = max(1, Int64((Double(context.limits.batchSize) * Double(blocks) / Double(total)).rounded(.down)))
            let source = queue.archiveSource
            let columns = queue.columns.map { ArchiveManifest.Column(name: $0.name, type: $0.type) }
            let names = columns.map(\.name)
            guard let idColumn = names.firstIndex(of: "id"), let createdAtColumn = names.firstIndex(of: "created_at") else {
                throw PGSweepError.missingColumns(job: job.definition.name, table: queue.name.description, columns: ["id", "created_at"])
            }
            var written: [(key: String, manifest: ArchiveManifest)] = []
            var copied: Int64 = 0
            var taken = Taken()
            context.shutdown.setActiveStatement(connection.cancelHandle())
            defer { context.shutdown.setActiveStatement(nil) }
            var start: Int64 = 0
            while start < blocks || (start == 0 && blocks == 0) {
                let end = start + perFile
                // The last range is open, so no row is left out whatever the file's size.
                let range = "ctid >= '(\(start),0)'::tid" + (end < blocks ? " AND ctid < '(\(end),0)'::tid" : "")
                start = end
                firstBatch += 1
                let key = ArchivePaths.dataKey(source: source, date: context.startedAt, runID: context.runID, batch: firstBatch)
                let writer = try ArchiveFileWriter(
                    store: store, key: key, level: Int32(job.storage.compressionLevel), idColumn: idColumn, createdAtColumn: createdAtColumn)
                let rows = try connection.copyOut("COPY (SELECT * FROM ONLY \(part) WHERE \(range)) TO STDOUT (FORMAT csv, HEADER)") {
                    try writer.write($0)
                }
                guard rows > 0 else { continue }
                let facts = try writer.finish()
                guard facts.rows == rows, facts.header == names else {
                    throw ArchiveError(.damaged, path: writer.path, "wrote \(facts.rows) rows with header \(facts.header), the server sent \(rows)")
                }
                let manifest = ArchiveManifest(
                    pgsweepVersion: PGSweepVersion.current, source: source, key: queue.identityKey ?? ["id"],
                    file: (key as NSString).lastPathComponent, columns: columns, facts: facts,
                    selection: "partition \(entry.name) \(entry.bounds), every row archivable", job: job.definition.name,
                    runID: context.runID, batch: firstBatch, writtenAt: PostgresTimestamp.format(Date()),
                    partition: .init(name: entry.name.quoted, bounds: entry.bounds))
                try writer.publish(manifest: manifest) {}
                written.append((key, manifest))
                copied += rows
                taken.bytes += facts.bytes
            }
            guard copied == total else {
                throw PGSweepError.checkFailed(
                    "partition \(entry.name): copied \(copied) rows but it holds \(total); nothing was detached or dropped")
            }
            FaultInjection.point("partition-after-files")
            let id = try connection.query(
                """
                INSERT INTO \(partitions) (run_id, job, table_name, database_system_id, database_name, partition_name, bounds, row_count, state)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'copied') RETURNING id
                """,
                [context.runID, job.definition.name, queue.name.quoted, queue.database.systemIdentifier, queue.database.name,
                 entry.name.quoted, entry.bounds, total])[0].require(Int64.self, "id")
            for (key, manifest) in written {
                try ArchiveLedger(schema: job.schema).record(manifest, relativePath: key, partitionID: id, on: connection)
            }
            taken.completed = try check.require(Int64.self, "completed")
            taken.failed = total - taken.completed
            taken.files = written.count
            try context.progress?.record(taken.counts, on: connection)
            FaultInjection.point("partition-after-ledger")
            logger.info(
                "partition copied whole",
                metadata: [LogKey.partition: .string(entry.name.description), LogKey.rows: .stringConvertible(total),
                           LogKey.files: .stringConvertible(written.count)])
            return (id, taken)
        }
    }
}
