/// The kinds of maintenance job (`type:` in a job's configuration).
public enum JobType: String, Sendable, CaseIterable, Codable {
    case reclaimOrphans = "reclaim_orphans"
    case resetFailed = "reset_failed"
    case archive
    case analyze
    case reindex

    /// True for jobs that change rows and so accept `flows` and `flow_overrides`.
    public var touchesRows: Bool { self != .analyze && self != .reindex }

    /// The keys of this type's own settings (`claimed_before`, `bloat_threshold`...).
    var settingsKeys: [String] {
        switch self {
        case .reclaimOrphans: return ReclaimOrphansSettings.keys
        case .resetFailed: return ResetFailedSettings.keys
        case .archive: return ArchiveSettings.keys
        case .analyze: return AnalyzeSettings.keys
        case .reindex: return ReindexSettings.keys
        }
    }
}
