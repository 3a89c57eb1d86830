import Cron
import LibPQ

extension ConfigLoader {
    /// Reads `jobs:`, applying `limits` (from `defaults:`) to each job.
    static func readJobs(_ value: ConfigValue, limits: JobLimits, table: QualifiedName) -> [JobDefinition] {
        var jobs: [JobDefinition] = []
        for (name, child) in value.mapping(allowed: nil) ?? [] {
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
            guard !name.isEmpty, name.utf8.count <= 63, name.allSatisfy(allowed.contains) else {
                child.problem("job names are 1 to 63 of the characters A-Z a-z 0-9 _ . -")
                continue
            }
            if let job = readJob(name: name, child, limits: limits, table: table) { jobs.append(job) }
        }
        return jobs
    }

    private static func readJob(name: String, _ value: ConfigValue, limits defaults: JobLimits, table: QualifiedName) -> JobDefinition? {
        guard case .mapping(let mapping) = value.node else {
            value.problem("expected a mapping with at least type and schedule")
            return nil
        }
        // The type decides which keys are allowed, so read it first.
        let typeNode = mapping.first { $0.key.scalar?.string == "type" }?.value
        guard let typeNode else {
            value.problem("missing required key \"type\" (one of \(JobType.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        let typeValue = ConfigValue(node: typeNode, path: "\(value.path).type", diagnostics: value.diagnostics)
        guard let typeText = typeValue.string() else { return nil }
        guard let type = JobType(rawValue: typeText) else {
            var message = "unknown job type \(typeText.debugDescription)"
            let names = JobType.allCases.map(\.rawValue)
            message += Spelling.hint(for: typeText, in: names)
            typeValue.problem(message)
            return nil
        }
        let allowed = jobKeys.filter { type.touchesRows || !["flows", "flow_overrides"].contains($0) } + JobLimits.keys
            + type.settingsKeys
        let entries = value.mapping(allowed: allowed) ?? []

        var limits = defaults
        var schedule: CronSchedule?
        var enabled = true
        var flows: [String]?
        for (key, child) in entries {
            switch key {
            case "schedule": schedule = child.schedule()
            case "enabled": enabled = child.bool() ?? enabled
            case "flows": flows = child.stringList()
            default: if JobLimits.keys.contains(key) { limits.read(key, child) }
            }
        }
        if type == .archive && !limits.batchSizeSet {
            // Archive batches are files: bigger ones mean fewer fsyncs and files.
            limits.batchSize = 50_000
        }
        if !entries.contains(where: { $0.key == "schedule" }) {
            value.problem("missing required key \"schedule\" (a cron expression such as \"*/5 * * * *\")")
        }
        let settings: JobSettings
        switch type {
        case .reclaimOrphans: settings = .reclaimOrphans(readPerFlow(entries, limits: limits))
        case .resetFailed: settings = .resetFailed(readPerFlow(entries, limits: limits))
        case .archive: settings = .archive(readPerFlow(entries, limits: limits))
        case .analyze: settings = .analyze(readPerFlow(entries, limits: limits).base)
        case .reindex: settings = .reindex(readPerFlow(entries, limits: limits).base)
        }
        guard let schedule else { return nil }
        return JobDefinition(
            name: name, type: type, schedule: schedule, enabled: enabled, limits: limits, flows: flows, settings: settings,
            tableName: table.quoted)
    }

    /// The type's settings from the job's own keys, then each flow's overrides on top.
    private static func readPerFlow<S: JobSettingsReading>(
        _ entries: [(key: String, value: ConfigValue)], limits: JobLimits
    ) -> PerFlow<S> {
        var base = S(limits: limits)
        for (key, child) in entries where S.keys.contains(key) { base.read(key, child) }
        var overrides: [String: S] = [:]
        if let value = entries.first(where: { $0.key == "flow_overrides" })?.value {
            for (flow, child) in value.mapping(allowed: nil) ?? [] {
                var settings = base
                for (key, setting) in child.mapping(allowed: S.flowKeys) ?? [] { settings.read(key, setting) }
                overrides[flow] = settings
            }
        }
        return PerFlow(base: base, overrides: overrides)
    }
}
