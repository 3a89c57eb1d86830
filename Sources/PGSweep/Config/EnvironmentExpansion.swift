/// Expands `${VAR}` and `${VAR:-default}` in configuration values.
///
/// `$$` stands for a literal `$`. A variable that is not set and has no default is a problem.
enum EnvironmentExpansion {
    static func expand(
        _ text: String, environment: [String: String], problem: (String) -> Void
    ) -> String? {
        guard text.contains("$") else { return text }
        var output = ""
        var rest = Substring(text)
        var failed = false
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            rest = rest[rest.index(after: dollar)...]
            if rest.first == "$" {
                output += "$"
                rest = rest.dropFirst()
                continue
            }
            guard rest.first == "{", let close = rest.firstIndex(of: "}") else {
                output += "$"
                continue
            }
            let body = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
            var name = body
            var fallback: Substring?
            if let separator = body.firstRange(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            }
            guard !name.isEmpty, name.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) else {
                problem("invalid variable reference ${\(body)}")
                failed = true
                continue
            }
            if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                problem("environment variable \(name) is not set (write ${\(name):-default} for a default)")
                failed = true
            }
        }
        output += rest
        return failed ? nil : output
    }
}
