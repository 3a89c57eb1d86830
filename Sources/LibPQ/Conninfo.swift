import CLibPQ

/// Helpers for libpq connection strings (`key=value` conninfo or `postgresql://` URIs).
public enum Conninfo {
    /// The options libpq reads from `conninfo`, or nil when libpq cannot parse it.
    ///
    /// Only options present in the string are returned; defaults and environment are not
    /// applied.
    public static func parse(_ conninfo: String) -> [String: String]? {
        var errmsg: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errmsg) else {
            if let errmsg { PQfreemem(errmsg) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var result: [String: String] = [:]
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            if let value = cursor.pointee.val {
                result[String(cString: keyword)] = String(cString: value)
            }
            cursor += 1
        }
        return result
    }

    /// Why libpq cannot parse `conninfo`, in words that never quote it, or nil when it parses.
    ///
    /// libpq's own parse errors quote the token they stumbled on, and that token is often the
    /// password (`50%offSale` in a URI, or the second word of an unquoted `password=`), so
    /// its text is never shown: the quoted parts are dropped and the place is given as a
    /// character position and the part of the string it falls in.
    public static func parseError(_ conninfo: String) -> String? {
        var errmsg: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(conninfo, &errmsg) {
            PQconninfoFree(options)
            return nil
        }
        var reason = "it cannot be parsed"
        if let errmsg {
            reason = hidingQuotedTokens(String(cString: errmsg))
            PQfreemem(errmsg)
        }
        let place = ConninfoPlace.locate(conninfo).map { " (\($0))" } ?? ""
        return "the connection string is not valid: \(reason)\(place); its text is not shown because it may hold the password"
    }

    /// libpq's message with every quoted token longer than one character removed (a single
    /// quoted character is the separator libpq expected, such as `"="`).
    static func hidingQuotedTokens(_ message: String) -> String {
        var output = ""
        var rest = Substring(message.split(separator: "\n").first ?? "")
        while let open = rest.firstIndex(of: "\"") {
            let afterOpen = rest.index(after: open)
            guard let close = rest[afterOpen...].firstIndex(of: "\"") else { break }
            let token = rest[afterOpen..<close]
            output += rest[..<open]
            output += token.count <= 1 ? "\"\(token)\"" : "a token"
            rest = rest[rest.index(after: close)...]
        }
        output += rest
        var text = output.trimmingTrailingWhitespace()
        if text.hasSuffix(": a token") { text.removeLast(": a token".count) }
        return text
    }

    /// `conninfo` with any password replaced by `****`, safe to print.
    ///
    /// Handles `password=...` in key/value strings (quoted or not), the user-info part of a
    /// URI (`postgresql://user:secret@host`) and a `password` URI query parameter.
    public static func redacted(_ conninfo: String) -> String {
        var text = conninfo
        if let scheme = text.firstRange(of: "://") {
            let afterScheme = text[scheme.upperBound...]
            let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
            if let at = text[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
                let colon = text[scheme.upperBound..<at].firstIndex(of: ":")
            {
                text.replaceSubrange(text.index(after: colon)..<at, with: "****")
            }
        }
        return maskKeyValue(text, key: "password")
    }

    /// `message` with every occurrence of `secret` replaced by `****`.
    ///
    /// Secrets shorter than three characters are left alone: masking them would mangle the
    /// message without protecting anything.
    public static func mask(_ secret: String?, in message: String) -> String {
        guard let secret, secret.count >= 3 else { return message }
        return message.replacingAll(secret, with: "****")
    }

    private static func maskKeyValue(_ text: String, key: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let range = rest.firstRange(of: key) {
            output += rest[..<range.lowerBound]
            output += key
            rest = rest[range.upperBound...]
            // Skip spaces, then `=`; anything else means this was not a keyword.
            let trimmed = rest.drop(while: { $0 == " " })
            guard let first = trimmed.first, first == "=" else { continue }
            var value = trimmed.dropFirst().drop(while: { $0 == " " })
            if value.first == "'" {
                value = value.dropFirst()
                var escaped = false
                var end = value.startIndex
                while end < value.endIndex {
                    let c = value[end]
                    if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "'" { break }
                    end = value.index(after: end)
                }
                rest = end < value.endIndex ? value[value.index(after: end)...] : value[end...]
            } else {
                let end = value.firstIndex(where: { $0 == " " || $0 == "&" }) ?? value.endIndex
                rest = value[end...]
            }
            output += "=****"
        }
        output += rest
        return output
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var output = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            output += rest[..<range.lowerBound]
            output += replacement
            rest = rest[range.upperBound...]
        }
        output += rest
        return output
    }
}
