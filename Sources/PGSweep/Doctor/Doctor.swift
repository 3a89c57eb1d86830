import ArchiveFormat
import Foundation
import LibPQ
import Logging
import ObjectStore

/// Checks what pgsweep needs: server version, the table and its indexes, pgsweep's schema,
/// pgstattuple, and a writable archive directory or object store.
public struct Doctor {
    /// One finding.
    public struct Check: Sendable, Encodable {
        public enum Outcome: String, Sendable, Encodable {
            case ok
            /// Works, but not as well as it could (for example, no pgstattuple).
            case warning
            case problem
        }
        public var name: String
        public var outcome: Outcome
        public var detail: String
    }

    public var config: PGSweepConfig
    public var logger: Logger

    public init(config: PGSweepConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Runs every check on `connection`.
    public func run(on connection: Connection) throws -> [Check] {
        var checks: [Check] = []
        let version = connection.serverVersion
        let versionText = connection.parameterStatus("server_version") ?? "\(version)"
        checks.append(Check(name: "connection", outcome: .ok, detail: "\(connection.endpoint)"))
        checks.append(serverVersionCheck(version: version, text: versionText))

        let manager = SchemaManager(config: config, logger: logger)
        let queue: QueueTable?
        do {
            queue = try QueueTable.resolve(config.table, on: connection)
        } catch PGSweepError.tableMissing {
            queue = nil
        } catch let error as PGSweepError {
            checks.append(Check(name: "table", outcome: .problem, detail: "\(error)"))
            return checks
        }
        let report = try manager.check(on: connection)
        checks.append(
            Check(name: "table", outcome: queue != nil ? .ok : .problem,
                  detail: queue.map { "\($0.name) exists" + ($0.isPartitioned ? " (partitioned by \($0.partitionKey.joined(separator: ", ")))" : "") }
                      ?? "\(config.table) does not exist"))
        if let queue { checks.append(keyCheck(queue)) }
        if let queue, queue.isPartitioned, report.ownSchemaVersion == report.ownSchemaCurrentVersion {
            checks.append(try partitionsCheck(queue, on: connection))
        }
        let bad = report.indexes.filter { $0.state != .valid }
        let renamed = report.indexes.filter { $0.existing != nil }.map { "\($0.name) as \($0.existing!)" }
        checks.append(
            Check(
                name: "indexes", outcome: bad.isEmpty ? .ok : .problem,
                detail: bad.isEmpty
                    ? "all \(report.indexes.count) V007 indexes valid" + (renamed.isEmpty ? "" : " (\(renamed.joined(separator: ", ")))")
                    : bad.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", ")))
        checks.append(
            Check(
                name: "pgsweep schema",
                outcome: report.ownSchemaVersion == report.ownSchemaCurrentVersion ? .ok : .problem,
                detail: report.ownSchemaVersion == 0
                    ? "not applied; run `pgsweep schema apply`"
                    : "version \(report.ownSchemaVersion) of \(report.ownSchemaCurrentVersion)"))
        checks.append(try pgstattupleCheck(on: connection))
        checks.append(config.archive.s3.map(archiveStoreCheck) ?? archiveDirectoryCheck())
        checks += try throttleChecks(on: connection)
        if let queue { checks += try jobChecks(queue, columns: report.jobColumns, on: connection) }
        return checks
    }

    /// A partitioned queue's partitions as the archive leaves them: frozen by a run that is
    /// gone (inserts and updates into them fail: a problem), copied whole and waiting for
    /// their drop, or none taken whole because a foreign key references the table.
    func partitionsCheck(_ queue: QueueTable, on connection: Connection) throws -> Check {
        let frozen = try PartitionFreezes(queue: queue, schema: config.schema).frozen(on: connection)
        let archiveRunning = try !ArchiveLock(schema: config.schema, table: queue.name).isFree(on: connection)
        let stale = archiveRunning ? [] : frozen.filter { !$0.copied }.map(\.name.description)
        let copied = frozen.filter(\.copied).map(\.name.description)
        if !stale.isEmpty {
            return Check(
                name: "partitions", outcome: .problem,
                detail: "\(stale.joined(separator: ", ")) frozen by an interrupted archive run (\(PartitionDropper.constraint)): "
                    + "inserts and updates into \(stale.count == 1 ? "it" : "them") fail; any pgsweep run or `archive verify --repair` removes the freeze")
        }
        var notes: [String] = []
        if !copied.isEmpty { notes.append("\(copied.joined(separator: ", ")) copied whole, waiting for their detach and drop by the next archive run") }
        if archiveRunning, frozen.contains(where: { !$0.copied }) { notes.append("an archive run is taking partitions whole now") }
        if config.archive.partitions == .whole, let keys = try ReferencingKeys.read(queue, evenCascading: true, on: connection).description {
            return Check(
                name: "partitions", outcome: .warning,
                detail: (["a foreign key references the table (\(keys)): no partition is taken whole, rows are archived one by one"] + notes)
                    .joined(separator: "; "))
        }
        return Check(name: "partitions", outcome: copied.isEmpty ? .ok : .warning, detail: notes.isEmpty ? "none frozen" : notes.joined(separator: "; "))
    }

    /// Whether restore could put archived rows back: the table's identity key.
    func keyCheck(_ queue: QueueTable) -> Check {
        guard let reason = queue.unrestorableReason else {
            let key = (queue.identityKey ?? []).joined(separator: ", ")
            return Check(name: "key", outcome: .ok, detail: "unique key on (\(key)): archived rows can be restored")
        }
        let archives = config.jobs.contains { $0.type == .archive }
        return Check(
            name: "key", outcome: archives ? .problem : .warning, detail: reason + (archives ? "; the archive job refuses to run" : ""))
    }

    /// One check per configured job: does the table have the columns it needs, can the
    /// connected role run it, and if not, why.
    func jobChecks(_ queue: QueueTable, columns: [SchemaReport.JobColumns], on connection: Connection) throws -> [Check] {
        let maintain = connection.serverVersion >= 170000 ? "has_table_privilege($1, 'MAINTAIN')" : "false"
        let row = try connection.query(
            """
            SELECT has_table_privilege($1, 'SELECT'), has_table_privilege($1, 'UPDATE'),
                   has_table_privilege($1, 'DELETE'), has_table_privilege($1, 'INSERT'),
                   pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = to_regclass($1)), 'USAGE')
                       OR \(maintain),
                   pg_has_role(current_user, 'pg_stat_scan_tables', 'USAGE'),
                   (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                   coalesce((SELECT has_schema_privilege(current_user, nspname, 'USAGE')
                             FROM pg_namespace WHERE nspname = $2), false),
                   current_user,
                   pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = to_regclass($1)), 'USAGE')
            """, [config.table.quoted, config.schema])[0]
        let select = try row.decode(Bool.self, at: 0) ?? false
        let update = try row.decode(Bool.self, at: 1) ?? false
        let delete = try row.decode(Bool.self, at: 2) ?? false
        let insert = try row.decode(Bool.self, at: 3) ?? false
        let maintains = try row.decode(Bool.self, at: 4) ?? false
        let scans = try row.decode(Bool.self, at: 5) ?? false
        let superuser = try row.decode(Bool.self, at: 6) ?? false
        let ownSchema = try row.decode(Bool.self, at: 7) ?? false
        let role = try row.decode(String.self, at: 8) ?? "?"
        let owns = try row.decode(Bool.self, at: 9) ?? false
        var checks: [Check] = []
        for job in config.jobs {
            var missing: [String] = []
            if let absent = columns.first(where: { $0.job == job.name })?.missing, !absent.isEmpty {
                missing.append("column(s) \(absent.joined(separator: ", ")), which \(queue.name) does not have")
            }
            let needs = JobRegistry.kind(job.type)?.needs ?? []
            var held: TableNeeds = []
            if select { held.insert(.select) }
            if update { held.insert(.update) }
            if delete { held.insert(.delete) }
            if maintains { held.insert(.maintain) }
            let lacking = needs.subtracting(held)
            let table = config.table
            let grants = [(TableNeeds.select, "SELECT"), (.update, "UPDATE"), (.delete, "DELETE")].filter { lacking.contains($0.0) }
            if !grants.isEmpty {
                // Name what the job needs on the table, not only what is lacking, as a GRANT would.
                let wanted = [(TableNeeds.select, "SELECT"), (.update, "UPDATE"), (.delete, "DELETE")].filter { needs.contains($0.0) }
                missing.append("\(wanted.map(\.1).joined(separator: " and ")) on \(table)")
            }
            if lacking.contains(.maintain) {
                missing.append("ownership of \(table) (membership in its owner role) or, from PostgreSQL 17, MAINTAIN")
            }
            if !ownSchema { missing.append("USAGE on schema \(config.schema) (run `pgsweep schema apply`)") }
            var detail = missing.isEmpty ? "\(role) can run it" : "\(role) cannot run it: needs \(missing.joined(separator: "; "))"
            if missing.isEmpty, job.type == .reindex, !scans, !superuser {
                detail += " (without pg_stat_scan_tables bloat is estimated, not measured)"
            }
            // MAINTAIN (PostgreSQL 17) covers REINDEX, not DROP INDEX, nor ALTER TABLE.
            if missing.isEmpty, !owns, !superuser {
                if job.type == .reindex {
                    detail += " (MAINTAIN without ownership: a leftover invalid _ccnew index can only be dropped by the table's owner)"
                } else if job.type == .archive, queue.isPartitioned, config.archive.partitions == .whole {
                    detail += " (without ownership no partition can be taken whole: detaching and dropping take the table's owner)"
                }
            }
            checks.append(Check(name: "job \(job.name)", outcome: missing.isEmpty ? .ok : .problem, detail: detail))
        }
        if !insert {
            checks.append(Check(name: "restore", outcome: .warning, detail: "\(role) cannot restore: needs INSERT on \(config.table)"))
        }
        return checks
    }

    func serverVersionCheck(version: Int, text: String) -> Check {
        if version < 120000 {
            return Check(
                name: "server version", outcome: .problem,
                detail: "\(text): pgsweep needs PostgreSQL 12 or later (REINDEX CONCURRENTLY)")
        }
        if (140000..<140004).contains(version) {
            return Check(
                name: "server version", outcome: .warning,
                detail: "\(text): 14.0 to 14.3 can corrupt indexes built CONCURRENTLY; the reindex job refuses to run; upgrade to 14.4 or later")
        }
        return Check(name: "server version", outcome: .ok, detail: text)
    }

    func pgstattupleCheck(on connection: Connection) throws -> Check {
        let rows = try connection.query(
            """
            SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pgstattuple'),
                   EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgstattuple')
            """)
        if let installed = try rows[0].decode(String.self, at: 0) {
            return Check(name: "pgstattuple", outcome: .ok, detail: "installed (version \(installed)); bloat is measured")
        }
        let available = try rows[0].decode(Bool.self, at: 1) ?? false
        return Check(
            name: "pgstattuple", outcome: .warning,
            detail: available
                ? "available but not installed (CREATE EXTENSION pgstattuple); bloat will be estimated"
                : "not available on the server; bloat will be estimated")
    }

    /// The server's role (a standby runs no job) and, per distinct throttle configuration,
    /// whether every signal can be read and which are past their limits now.
    func throttleChecks(on connection: Connection) throws -> [Check] {
        var checks: [Check] = []
        if try connection.query("SELECT pg_is_in_recovery() AS standby")[0].require(Bool.self, "standby") {
            return [Check(
                name: "server role", outcome: .warning,
                detail: "a standby (in recovery): every job is skipped here; point pgsweep at the primary")]
        }
        for (settings, names) in config.throttleGroups {
            let jobs = names.joined(separator: ", ")
            // A limit the server can never meet pauses every job until max_runtime, doing nothing.
            if case .size(let wanted) = settings.minSlotSafeWalSize, let keep = try ThrottleSignals.slotWalKeepSize(connection),
                wanted >= keep
            {
                checks.append(Check(
                    name: "throttle signals", outcome: .problem,
                    detail: "jobs \(jobs): min_slot_safe_wal_size \(ByteSize.format(wanted)) can never be met: the server keeps at most "
                        + "\(ByteSize.format(keep)) of WAL for a slot (max_slot_wal_keep_size); every job would pause until max_runtime. "
                        + "Set it below that, or auto"))
            }
            let snapshot = try ThrottleSignals(settings: settings).read(on: connection)
            let over = snapshot.readings.filter(\.over).map { "\($0.signal) \($0.value) (limit \($0.limit))" }
            if !snapshot.unreadable.isEmpty {
                checks.append(Check(
                    name: "throttle signals", outcome: .warning,
                    detail: "jobs \(jobs): cannot read " + snapshot.unreadable.map { "\($0.signal) (\($0.reason))" }.joined(separator: "; ")))
            } else {
                checks.append(Check(
                    name: "throttle signals", outcome: .ok,
                    detail: "jobs \(jobs): all readable" + (over.isEmpty ? ", none past its limit" : "; past the limit now: " + over.joined(separator: "; "))))
            }
        }
        return checks
    }

    /// The object store, when archives go to one: credentials resolve, the bucket lists, and
    /// a probe object is created with `If-None-Match: *` and deleted.
    func archiveStoreCheck(_ s3: S3Settings) -> Check {
        let name = "archive store"
        do {
            guard let store = try config.archive.makeStore() as? S3ArchiveStore else { return archiveDirectoryCheck() }
            _ = try store.client.credentials.current()
            try store.client.checkBucket()
            let probe = ".pgsweep-doctor-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try Array("pgsweep doctor probe".utf8).withUnsafeBytes { try store.client.create(probe, bytes: $0) }
            try store.client.delete(probe)
            return Check(
                name: name, outcome: .ok,
                detail: "\(store.location) is reachable and writable (credentials: \(store.client.credentials.sourceDescription))")
        } catch {
            return Check(name: name, outcome: .problem, detail: "s3://\(s3.bucket)/\(s3.prefix): \(error)")
        }
    }

    func archiveDirectoryCheck() -> Check {
        let directory = config.archive.directory
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                return Check(name: "archive directory", outcome: .problem, detail: "\(directory) is not a directory")
            }
            let probe = "\(directory)/.pgsweep-doctor-\(getpid())"
            let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                return Check(
                    name: "archive directory", outcome: .problem,
                    detail: "\(directory) is not writable: \(String(cString: strerror(errno)))")
            }
            close(fd)
            unlink(probe)
            return Check(name: "archive directory", outcome: .ok, detail: "\(directory) is writable")
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if access(parent.isEmpty ? "." : parent, W_OK) == 0 {
            return Check(name: "archive directory", outcome: .ok, detail: "\(directory) will be created on first use")
        }
        return Check(
            name: "archive directory", outcome: .problem,
            detail: "\(directory) does not exist and cannot be created in \(parent)")
    }
}
