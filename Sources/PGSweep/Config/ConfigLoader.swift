import Foundation
import LibPQ
import Yams

/// Reads and validates a `jobs.yaml` file.
public enum ConfigLoader {
    /// Keys under `database:`, `archive:` and `metrics:`.
    static let databaseKeys = ["url", "statement_timeout", "lock_timeout"]
    static let archiveKeys = ["directory", "s3", "compression_level", "min_free_space", "partitions"]
    static let metricsKeys = ["textfile", "pushgateway", "listen", "cache"]
    /// Keys of a job besides the limits and the type's own keys.
    static let jobKeys = ["type", "schedule", "enabled", "flows", "flow_overrides"]

    /// Every configuration key as the README's reference names it, one per table row:
    /// `database.url`, `defaults.batch_size`, `jobs.<name>.schedule`,
    /// `claimed_before (reclaim_orphans)`... A test keeps the two in step.
    public static var referenceKeys: Set<String> {
        var keys: Set<String> = ["table", "schema", "timezone", "history_retention", "jobs.<name>", "jobs.<name>.<any defaults key>"]
        keys.formUnion(databaseKeys.map { "database.\($0)" })
        keys.formUnion(archiveKeys.map { "archive.\($0)" })
        keys.formUnion(S3Settings.keys.map { "archive.s3.\($0)" })
        keys.formUnion(metricsKeys.map { "metrics.\($0)" })
        keys.formUnion(JobLimits.keys.map { "defaults.\($0)" })
        keys.formUnion(ThrottleSettings.keys.map { "defaults.throttle.\($0)" })
        keys.formUnion(jobKeys.map { "jobs.<name>.\($0)" })
        for kind in JobRegistry.all {
            keys.formUnion(kind.settingsKeys.map { "\($0) (\(kind.type.rawValue))" })
        }
        return keys
    }

    /// Top-level keys of the file.
    static let topLevelKeys = [
        "database", "table", "schema", "timezone", "archive", "metrics", "history_retention", "defaults", "jobs",
    ]

    /// The file named by `--config`, else `$PGSWEEP_CONFIG`, else `./jobs.yaml`.
    public static func resolvePath(_ option: String?, environment: [String: String]) -> String {
        if let option, !option.isEmpty { return option }
        if let variable = environment["PGSWEEP_CONFIG"], !variable.isEmpty { return variable }
        return "jobs.yaml"
    }

    /// Loads the configuration at `path`, expanding `${VAR}` from `environment`.
    ///
    /// - Throws: `ConfigError` listing every problem found.
    public static func load(path: String, environment: [String: String]) throws -> PGSweepConfig {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw ConfigError(issues: [ConfigIssue(
                file: path, keyPath: "", message: "is a folder, not a configuration file (name the file, such as \(path)/jobs.yaml)")])
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read as UTF-8 text" : "file not found"
            throw ConfigError(issues: [ConfigIssue(file: path, keyPath: "", message: reason)])
        }
        return try parse(text, file: path, environment: environment)
    }

    /// Parses configuration text; `file` names it in messages and anchors relative paths.
    public static func parse(_ text: String, file: String, environment: [String: String]) throws -> PGSweepConfig {
        let diagnostics = ConfigDiagnostics(file: file, environment: environment)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(issues: [ConfigIssue(file: file, keyPath: "", message: "the file is empty")])
            }
            root = node
        } catch let error as YamlError {
            throw ConfigError(issues: [yamlIssue(error, file: file, text: text)])
        }
        var config = PGSweepConfig(file: file)
        let top = ConfigValue(node: root, path: "", diagnostics: diagnostics)
        let entries = top.mapping(allowed: topLevelKeys) ?? []
        var limits = JobLimits()
        for (key, value) in entries {
            switch key {
            case "database": readDatabase(value, into: &config.database)
            case "table":
                if let text = value.string(expected: "a table name") {
                    do {
                        let name = try QualifiedName(parsing: text)
                        if let schema = name.schema, QueueTable.systemSchemas.contains(schema) || schema.hasPrefix("pg_") {
                            value.problem("expected the work-queue table, got \(text.debugDescription) in the system schema \(schema)")
                        } else {
                            config.table = name
                        }
                    } catch let error as PostgresError {
                        value.problem("expected a table name like processing_queue or app.processing_queue: \(error.message)")
                    } catch {}
                }
            case "schema":
                if let text = value.string(expected: "a schema name") {
                    if text.isEmpty || text.utf8.count > 63 { value.problem("expected a schema name of 1 to 63 bytes") }
                    else { config.schema = text }
                }
            case "archive": readArchive(value, into: &config.archive, file: file)
            case "timezone":
                if let zone = value.timeZone() {
                    config.timeZone = zone
                    config.timeZoneName = value.string() ?? zone.identifier
                }
            case "metrics": readMetrics(value, into: &config.metrics)
            case "history_retention": config.historyRetention = value.duration() ?? config.historyRetention
            case "defaults":
                for (key, child) in value.mapping(allowed: JobLimits.keys) ?? [] { limits.read(key, child) }
            default: break  // jobs: read below, once the defaults are known
            }
        }
        if let jobs = entries.first(where: { $0.key == "jobs" })?.value {
            config.jobs = readJobs(jobs, limits: limits, table: config.table)
        }
        // Relative paths start at the configuration file's folder, not the working directory.
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        func anchored(_ path: String) -> String {
            path.hasPrefix("/") ? path : folder.appendingPathComponent(path).standardizedFileURL.path
        }
        config.archive.directory = anchored(config.archive.directory)
        if let caFile = config.archive.s3?.caFile { config.archive.s3?.caFile = anchored(caFile) }
        config.metrics.textfile = config.metrics.textfile.map(anchored)
        guard diagnostics.issues.isEmpty else {
            let ordered = diagnostics.issues.enumerated().sorted { lhs, rhs in
                let left = (lhs.element.line ?? 0, lhs.element.column ?? 0, lhs.offset)
                let right = (rhs.element.line ?? 0, rhs.element.column ?? 0, rhs.offset)
                return left < right
            }
            throw ConfigError(issues: ordered.map(\.element))
        }
        return config
    }

    private static func readDatabase(_ value: ConfigValue, into settings: inout PGSweepConfig.DatabaseSettings) {
        for (key, child) in value.mapping(allowed: databaseKeys) ?? [] {
            switch key {
            case "url": settings.url = child.string(expected: "a libpq connection string or URI")
            case "statement_timeout":
                settings.statementTimeout = child.parsed("a duration like 30s", positiveDuration) ?? settings.statementTimeout
            default:
                settings.lockTimeout = child.parsed("a duration like 5s", positiveDuration) ?? settings.lockTimeout
            }
        }
    }

    private static func readMetrics(_ value: ConfigValue, into settings: inout PGSweepConfig.MetricsSettings) {
        for (key, child) in value.mapping(allowed: metricsKeys) ?? [] {
            switch key {
            case "textfile": settings.textfile = child.parsed("a file path") { $0.isEmpty ? nil : $0 }
            case "listen":
                settings.listen = child.parsed("an IPv4 address and port like 127.0.0.1:9187") { text in
                    let parts = text.split(separator: ":")
                    guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port),
                        parts[0].split(separator: ".").count == 4, parts[0].split(separator: ".").allSatisfy({ UInt8($0) != nil })
                    else { return nil }
                    return (String(parts[0]), port)
                } ?? settings.listen
            case "cache": settings.cache = child.parsed("a duration like 15s", positiveDuration) ?? settings.cache
            default:
                settings.pushgateway = child.parsed("an http:// or https:// URL") { text in
                    guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil
                    else { return nil }
                    return text.hasSuffix("/") ? String(text.dropLast()) : text
                }
            }
        }
    }

    private static func readArchive(_ value: ConfigValue, into settings: inout PGSweepConfig.ArchiveStorage, file: String) {
        let entries = value.mapping(allowed: archiveKeys) ?? []
        if entries.contains(where: { $0.key == "directory" }), let s3 = entries.first(where: { $0.key == "s3" })?.value {
            s3.problem("archive.s3 and archive.directory exclude each other: archives go to one place; remove one of them")
        }
        for (key, child) in entries {
            switch key {
            case "s3": settings.s3 = readS3(child)
            case "directory":
                if let text = child.string(expected: "a directory path") {
                    if text.isEmpty { child.problem("expected a directory path, got an empty string") }
                    else { settings.directory = text }
                }
            case "min_free_space": settings.minFreeSpace = child.byteSize() ?? settings.minFreeSpace
            case "partitions":
                settings.partitions = child.parsed("whole or rows") { PGSweepConfig.ArchiveStorage.PartitionMode(rawValue: $0) }
                    ?? settings.partitions
            default:
                settings.compressionLevel = child.parsed("an integer from 1 to 19") { text in
                    Int(text).flatMap { (1...19).contains($0) ? $0 : nil }
                } ?? settings.compressionLevel
            }
        }
    }

    private static func readS3(_ value: ConfigValue) -> S3Settings? {
        let entries = value.mapping(allowed: S3Settings.keys) ?? []
        guard let bucketValue = entries.first(where: { $0.key == "bucket" })?.value else {
            value.problem("expected a mapping with at least bucket:, like { bucket: my-archive, prefix: queue/ }")
            return nil
        }
        // Bucket names: 3 to 63 lower-case letters, digits, dots and hyphens.
        guard let bucket = bucketValue.parsed("a bucket name (3 to 63 lower-case letters, digits, dots and hyphens)", { text in
            (3...63).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }
                ? text : nil
        }) else { return nil }
        var settings = S3Settings(bucket: bucket)
        for (key, child) in entries {
            switch key {
            case "prefix":
                if let text = child.string(expected: "a key prefix like queue-archive/") {
                    let trimmed = String(text.drop { $0 == "/" })
                    settings.prefix = trimmed.isEmpty || trimmed.hasSuffix("/") ? trimmed : trimmed + "/"
                }
            case "region": settings.region = child.string(expected: "a region like eu-west-1")
            case "endpoint":
                settings.endpoint = child.parsed("an http or https URL like https://minio.internal:9000") { text in
                    guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
                        url.path.isEmpty || url.path == "/", url.query == nil
                    else { return nil }
                    return text.hasSuffix("/") ? String(text.dropLast()) : text
                } ?? settings.endpoint
            case "path_style": settings.pathStyle = child.bool() ?? settings.pathStyle
            case "storage_class": settings.storageClass = child.string(expected: "a storage class like STANDARD_IA")
            case "ca_file": settings.caFile = child.string(expected: "a path to a PEM file of certificate authorities")
            case "part_size":
                settings.partSize = child.parsed("a size of 5MB or more, like 8MB") { text in
                    ByteSize.parse(text).flatMap { $0 >= 5 << 20 && $0 <= 5 << 30 ? $0 : nil }
                } ?? settings.partSize
            case "timeout": settings.timeout = child.parsed("a duration like 30s", positiveDuration) ?? settings.timeout
            case "retries":
                settings.retries = child.parsed("an integer from 0 to 20") { Int($0).flatMap { (0...20).contains($0) ? $0 : nil } }
                    ?? settings.retries
            default: break
            }
        }
        return settings
    }

    static func positiveDuration(_ text: String) -> ConfigDuration? {
        ConfigDuration(parsing: text).flatMap { $0.milliseconds > 0 ? $0 : nil }
    }

    private static func yamlIssue(_ error: YamlError, file: String, text: String) -> ConfigIssue {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\($0.text) " } ?? ""
            return ConfigIssue(
                file: file, line: mark.line, column: mark.column, keyPath: "",
                message: "invalid YAML: \(detail)\(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map(\.debugDescription).joined(separator: ", ")
            // Yams marks the first occurrence; point at the repeat, which is the one to remove.
            let again = duplicates.first.flatMap {
                DuplicateKey.repeatMark(of: $0, firstAt: (context.mark.line, context.mark.column), in: text)
            }
            return ConfigIssue(
                file: file, line: again?.line ?? context.mark.line, column: again?.column ?? context.mark.column, keyPath: "",
                message: "duplicate key \(keys) in one mapping (first at line \(context.mark.line))")
        default:
            return ConfigIssue(file: file, keyPath: "", message: "invalid YAML: \(error)")
        }
    }
}
