/// Where a connection string stops being valid, described without its text: a character
/// position and the part it falls in (the password, the host list, a query parameter named
/// by its key, the value of a keyword). Key names are shown, values never.
enum ConninfoPlace {
    static func locate(_ conninfo: String) -> String? {
        let characters = Array(conninfo)
        if conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://") {
            return uri(characters)
        }
        return keywordValue(characters)
    }

    /// The first bad percent-encoding (`%` not followed by two hex digits, or `%00`) of a URI.
    private static func uri(_ text: [Character]) -> String? {
        guard let schemeEnd = firstIndex(of: "://", in: text) else { return nil }
        let start = schemeEnd + 3
        let authorityEnd = text[start...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
        let at = text[start..<authorityEnd].lastIndex(of: "@")
        let colon = at.flatMap { at in text[start..<at].firstIndex(of: ":") }
        let query = text[start...].firstIndex(of: "?")
        var index = start
        while index < text.count {
            if text[index] == "%" {
                let digits = text[min(index + 1, text.count)..<min(index + 3, text.count)]
                let valid = digits.count == 2 && digits.allSatisfy(\.isHexDigit) && String(digits) != "00"
                if !valid {
                    let what = String(digits) == "00" ? "a %00 (a NUL byte)" : "a % not followed by two hex digits"
                    return "\(what) at character \(index + 1), \(part(index))"
                }
            }
            index += 1
        }
        return nil

        func part(_ index: Int) -> String {
            if let at, index < at {
                if let colon, index > colon { return "in the password" }
                return "in the user name"
            }
            if index < authorityEnd { return "in the host list" }
            if let query, index > query {
                let fieldStart = (text[query..<index].lastIndex(where: { $0 == "&" }) ?? query) + 1
                let key = text[fieldStart..<index].split(separator: "=", maxSplits: 1).first.map { String($0) } ?? ""
                let keyText = text[fieldStart..<index].contains("=") ? "the value of query parameter \(key)" : "a query parameter's name"
                return "in \(keyText)"
            }
            return "in the database name"
        }
    }

    /// The first word of a keyword/value string that has no `=` after it, or an unterminated quote.
    private static func keywordValue(_ text: [Character]) -> String? {
        var index = 0
        var previousKey: String?
        while index < text.count {
            while index < text.count, text[index].isWhitespace { index += 1 }
            guard index < text.count else { return nil }
            let keyStart = index
            while index < text.count, !text[index].isWhitespace, text[index] != "=" { index += 1 }
            let key = String(text[keyStart..<index])
            while index < text.count, text[index].isWhitespace { index += 1 }
            guard index < text.count, text[index] == "=" else {
                let after = previousKey.map { " after the value of \($0)" } ?? ""
                return "a word with no \"=\" at character \(keyStart + 1)\(after)"
            }
            index += 1
            while index < text.count, text[index].isWhitespace { index += 1 }
            if index < text.count, text[index] == "'" {
                let quoteStart = index
                index += 1
                var closed = false
                while index < text.count {
                    if text[index] == "\\" { index += 2; continue }
                    if text[index] == "'" { closed = true; index += 1; break }
                    index += 1
                }
                if !closed { return "the quoted value of \(key), opened at character \(quoteStart + 1), is never closed" }
            } else {
                while index < text.count, !text[index].isWhitespace { index += 1 }
            }
            previousKey = key
        }
        return nil
    }

    private static func firstIndex(of needle: String, in text: [Character]) -> Int? {
        let pattern = Array(needle)
        guard text.count >= pattern.count else { return nil }
        for start in 0...(text.count - pattern.count) where Array(text[start..<start + pattern.count]) == pattern {
            return start
        }
        return nil
    }
}
