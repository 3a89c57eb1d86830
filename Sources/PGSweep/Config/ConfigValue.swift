import Yams

/// A YAML node of the configuration file, with its key path, that reports problems to a
/// shared `ConfigDiagnostics` instead of throwing, so that every problem is found at once.
struct ConfigValue {
    let node: Node
    let path: String
    let diagnostics: ConfigDiagnostics

    /// Records a problem located at this node.
    func problem(_ message: String) {
        diagnostics.add(message, path: path, mark: node.mark)
    }

    /// The scalar's text after `${VAR}` expansion, or nil (with a problem) for a non-scalar.
    func string(expected: String = "a string") -> String? {
        guard case .scalar(let scalar) = node else {
            problem("expected \(expected), got \(kind)")
            return nil
        }
        return EnvironmentExpansion.expand(scalar.string, environment: diagnostics.environment) {
            problem($0)
        }
    }

    /// A value parsed by `parse` from the scalar text; `expected` describes valid input.
    func parsed<T>(_ expected: String, _ parse: (String) -> T?) -> T? {
        guard let text = string(expected: expected) else { return nil }
        guard let value = parse(text) else {
            problem("expected \(expected), got \(text.debugDescription)")
            return nil
        }
        return value
    }

    /// The mapping's entries, after reporting keys outside `allowed` (with a suggestion).
    func mapping(allowed: [String]?) -> [(key: String, value: ConfigValue)]? {
        guard case .mapping(let mapping) = node else {
            problem("expected a mapping, got \(kind)")
            return nil
        }
        var seen = Set<String>()
        var entries: [(key: String, value: ConfigValue)] = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.scalar?.string ?? ""
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            let child = ConfigValue(node: valueNode, path: childPath, diagnostics: diagnostics)
            if !seen.insert(key).inserted {
                diagnostics.add("duplicate key \(key.debugDescription)", path: childPath, mark: keyNode.mark)
                continue
            }
            if let allowed, !allowed.contains(key) {
                let message = "unknown key \(key.debugDescription)" + Spelling.hint(for: key, in: allowed)
                diagnostics.add(message, path: childPath, mark: keyNode.mark)
                continue
            }
            entries.append((key, child))
        }
        return entries
    }

    private var kind: String {
        switch node {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

/// Collects configuration problems for one file.
final class ConfigDiagnostics {
    let file: String
    let environment: [String: String]
    private(set) var issues: [ConfigIssue] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    func add(_ message: String, path: String, mark: Mark?) {
        issues.append(
            ConfigIssue(file: file, line: mark?.line, column: mark?.column, keyPath: path, message: message))
    }
}
