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
