import Foundation

/// The shared `credentials` and `config` files AWS tools read (`~/.aws/`, or
/// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`): one profile's keys.
struct AWSProfileFiles {
    var values: [String: String] = [:]

    /// The keys of `profile` (`default` unless named), the credentials file's over the config file's.
    init(profile: String, environment: [String: String]) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let config = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        let credentials = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        // In the config file a profile's section is `[profile NAME]`, except `[default]`.
        let configSection = profile == "default" ? "default" : "profile \(profile)"
        for (key, value) in Self.section(configSection, of: config) { values[key] = value }
        for (key, value) in Self.section(profile, of: credentials) { values[key] = value }
    }

    subscript(key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }

    /// `key = value` lines of `[name]` in the INI file at `path`; empty when either is missing.
    static func section(_ name: String, of path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var current: String?
        var found: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard current == name, let equals = line.firstIndex(of: "=") else { continue }
            found[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return found
    }
}
