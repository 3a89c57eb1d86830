/// Finds where a mapping key repeats in YAML text, since the parser reports only where it
/// first appears. Best effort: nil when it cannot tell.
enum DuplicateKey {
    /// Line and column (1-based) of the second occurrence of `key` in the mapping whose key
    /// `key` first appears at `first`: later on the same line in a flow mapping
    /// (`{ a: 1, a: 2 }`), else on a later line at the same indentation before the mapping ends.
    static func repeatMark(of key: String, firstAt first: (line: Int, column: Int), in text: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0) }
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let spellings = [key, "\"\(key)\"", "'\(key)'"].map(Array.init)
        func isKey(_ line: [Character], at start: Int) -> Bool {
            spellings.contains { spelling in
                guard start + spelling.count <= line.count, Array(line[start..<start + spelling.count]) == spelling else { return false }
                let after = line[(start + spelling.count)...].drop { $0 == " " }
                return after.first == ":"
            }
        }
        // Flow style: after a `,` or `{` further along the first line.
        let line = lines[first.line - 1]
        var position = first.column
        while position < line.count {
            if line[position] == "," || line[position] == "{" {
                var start = position + 1
                while start < line.count, line[start] == " " { start += 1 }
                if isKey(line, at: start) { return (first.line, start + 1) }
            }
            position += 1
        }
        // Block style: a later line at the key's indentation.
        let indent = first.column - 1
        for index in first.line..<lines.count {
            let line = lines[index]
            let depth = line.prefix { $0 == " " }.count
            if depth == line.count || line[depth] == "#" { continue }
            if depth < indent { return nil }  // the mapping ended
            if depth == indent, isKey(line, at: depth) { return (index + 1, indent + 1) }
        }
        return nil
    }
}
