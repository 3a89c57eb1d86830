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
        guard let kind = JobRegistry.kind(JobType(rawValue: typeText)) else {
            var message = "unknown job type \(typeText.debugDescription)"
            let names = JobType.allCases.map(\.rawValue)
            message += Spelling.hint(for: typeText, in: names)
            typeValue.problem(message)
            return nil
        }
        let allowed = jobKeys.filter { kind.touchesRows || !["flows", "flow_overrides"].contains($0) } + JobLimits.keys
            + kind.settingsKeys
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
        if let size = kind.defaultBatchSize, !limits.batchSizeSet { limits.batchSize = size }
        if !entries.contains(where: { $0.key == "schedule" }) {
            value.problem("missing required key \"schedule\" (a cron expression such as \"*/5 * * * *\")")
        }
        let settings = kind.readSettings(entries, limits)
        guard let schedule else { return nil }
        return JobDefinition(
            name: name, type: kind.type, schedule: schedule, enabled: enabled, limits: limits, flows: flows, settings: settings,
            tableName: table.quoted)
    }
}
