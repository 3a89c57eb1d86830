import LibPQ

/// Which flows one pass of a row-touching job covers.
public enum FlowFilter: Sendable, Equatable {
    case all
    case only([String])
    case except([String])

    /// The SQL condition on `flow_name`, using parameter `$index`; nil for `.all`.
    func condition(parameter index: Int) -> String? {
        switch self {
        case .all: return nil
        case .only: return "flow_name = ANY($\(index)::text[])"
        case .except: return "flow_name <> ALL($\(index)::text[])"
        }
    }

    /// The flows the filter names, if any.
    var flows: [String]? {
        switch self {
        case .all: return nil
        case .only(let flows), .except(let flows): return flows
        }
    }

    /// The SQL condition on `flow_name` reading the list from setting `name`; nil for `.all`.
    func condition(setting name: String) -> String? {
        switch self {
        case .all: return nil
        case .only: return "flow_name = ANY(current_setting('\(name)', true)::text[])"
        case .except: return "flow_name <> ALL(current_setting('\(name)', true)::text[])"
        }
    }

    /// Indexes (by suffix) a batch limited to named flows may also use: PostgreSQL can reach
    /// a few flows' rows through the flow-leading indexes as well as through the job's own.
    var flowIndexes: [String] {
        if case .only = self { return ["flow_name_status", "monitoring"] }
        return []
    }

    /// `parameters` plus the flow list, when the filter has one; pair with
    /// `condition(parameter: parameters.count + 1)`.
    func appending(to parameters: [(any PostgresBindable)?]) -> [(any PostgresBindable)?] {
        switch self {
        case .all: return parameters
        case .only(let flows), .except(let flows): return parameters + [flows]
        }
    }

    public var description: String {
        switch self {
        case .all: return "all flows"
        case .only(let flows): return "flows \(flows.joined(separator: ", "))"
        case .except(let flows): return "flows other than \(flows.joined(separator: ", "))"
        }
    }
}

/// One pass of a row-touching job: a set of flows and the settings they share.
///
/// A job with `flow_overrides` makes one pass per overridden flow, then one for the rest;
/// with `flows`, only those flows are covered at all.
public struct FlowPass<Settings: Sendable>: Sendable {
    public var filter: FlowFilter
    public var settings: Settings

    /// The passes that cover `flows` (nil: every flow) with `perFlow`'s settings.
    public static func passes(_ perFlow: PerFlow<Settings>, flows: [String]?) -> [FlowPass] {
        let overridden = perFlow.overrides.keys.sorted().filter { flows?.contains($0) ?? true }
        var passes = overridden.map { FlowPass(filter: .only([$0]), settings: perFlow.overrides[$0]!) }
        if let flows {
            let rest = flows.filter { !overridden.contains($0) }
            if !rest.isEmpty { passes.append(FlowPass(filter: .only(rest), settings: perFlow.base)) }
        } else {
            passes.append(FlowPass(filter: overridden.isEmpty ? .all : .except(overridden), settings: perFlow.base))
        }
        return passes
    }
}

/// A query a job runs for each batch, for `explain` to show and check.
public struct BatchQuery: Sendable {
    /// What the query does (`reclaim orphans, all flows`).
    public var title: String
    /// The full statement the job runs, which `explain` plans.
    public var sql: String
    public var parameters: [(any PostgresBindable)?]
    /// Statements to run first in the same transaction (settings the statement reads).
    public var setup: [(sql: String, parameters: [(any PostgresBindable)?])] = []
    /// The indexes (by suffix, as in `QueueIndex.v007`) the batch selector may use; the
    /// first is the one the design names.
    public var acceptableIndexes: [String]
    /// Indexes led by `flow_name` that PostgreSQL 18 and later may read by a skip scan (one
    /// descent per flow) to find the rows of one status: as selective as an index led by
    /// the status when the table has few flows, which is what the planner weighs.
    public var skipScanIndexes: [String] = []
}

/// Jobs whose batches `explain` can show and check.
public protocol ExplainableJob: MaintenanceJob {
    /// The batch queries a run would issue, with parameters computed from `context`.
    func batchQueries(_ context: JobContext) throws -> [BatchQuery]
}
