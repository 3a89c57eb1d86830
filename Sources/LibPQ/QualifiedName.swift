/// A table or index name from configuration, optionally schema-qualified, ready to be
/// placed into SQL text safely.
///
/// Parsing follows PostgreSQL's rules: parts are separated by dots outside double quotes;
/// an unquoted part is folded to lower case (ASCII letters only, as the server does for
/// UTF-8); a quoted part keeps its case, and `""` inside it stands for one `"`. Whatever
/// the input, `quoted` yields identifiers in double quotes, so text such as
/// `x; DROP TABLE y` names a (non-existent) table and is never executed.
public struct QualifiedName: Hashable, Sendable, CustomStringConvertible {
    /// The schema, when the name was qualified.
    public var schema: String?
    /// The object's own name.
    public var name: String

    public init(schema: String?, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses `text` such as `processing_queue`, `app.processing_queue` or `"My"."Queue"`.
    public init(parsing text: String) throws {
        let parts = try QualifiedName.split(text)
        switch parts.count {
        case 1: self.init(schema: nil, name: parts[0])
        case 2: self.init(schema: parts[0], name: parts[1])
        default:
            throw PostgresError(
                kind: .client,
                message: "expected a name or schema.name, got \(parts.count) dot-separated parts in \(text.debugDescription)")
        }
    }

    /// The name as SQL: each part in double quotes, `"schema"."name"`.
    public var quoted: String {
        if let schema { return quoteIdentifier(schema) + "." + quoteIdentifier(name) }
        return quoteIdentifier(name)
    }

    /// The name as a string literal for `::regclass` casts and catalog lookups.
    public var literal: String { quoteLiteral(quoted) }

    public var description: String { schema.map { "\($0).\(name)" } ?? name }

    /// The name with only the parts that need it in double quotes (`public.processing_queue`,
    /// `"sch.ema"."we""ird.Tåble"`): one text for one table, where `description` would give
    /// `sch.ema` + `we"ird.Tåble` and `sch` + `ema.we"ird.Tåble` the same. For metric labels.
    public var unambiguous: String {
        func part(_ text: String) -> String {
            let plain = text.unicodeScalars.first.map { $0 == "_" || ("a"..."z").contains($0) } == true
                && text.unicodeScalars.allSatisfy { $0 == "_" || $0 == "$" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
            return plain ? text : quoteIdentifier(text)
        }
        return schema.map { "\(part($0)).\(part(name))" } ?? part(name)
    }

    private static func split(_ text: String) throws -> [String] {
        var parts: [String] = []
        var current = ""
        var inQuotes = false
        var wasQuoted = false
        var characters = Array(text.unicodeScalars)[...]
        func finish() throws {
            guard !current.isEmpty else {
                throw PostgresError(kind: .client, message: "empty name part in \(text.debugDescription)")
            }
            guard current.utf8.count <= 63 else {
                throw PostgresError(
                    kind: .client, message: "name part longer than 63 bytes in \(text.debugDescription)")
            }
            parts.append(current)
            current = ""
            wasQuoted = false
        }
        while let scalar = characters.popFirst() {
            if inQuotes {
                if scalar == "\"" {
                    if characters.first == "\"" {
                        characters.removeFirst()
                        current.unicodeScalars.append("\"")
                    } else {
                        inQuotes = false
                    }
                } else {
                    current.unicodeScalars.append(scalar)
                }
            } else if scalar == "\"" {
                guard current.isEmpty, !wasQuoted else {
                    throw PostgresError(kind: .client, message: "misplaced quote in \(text.debugDescription)")
                }
                inQuotes = true
                wasQuoted = true
            } else if scalar == "." {
                try finish()
            } else {
                guard !wasQuoted else {
                    throw PostgresError(
                        kind: .client, message: "text after a closing quote in \(text.debugDescription)")
                }
                guard isIdentifierCharacter(scalar, first: current.isEmpty) else {
                    let what = scalar.properties.isWhitespace ? "a space" : "\"\(scalar)\""
                    throw PostgresError(
                        kind: .client,
                        message: "\(what) is not allowed in an unquoted name in \(text.debugDescription) (put the part in double quotes if it is really part of the name)")
                }
                let folded = ("A"..."Z").contains(scalar)
                    ? Unicode.Scalar(scalar.value + 32)! : scalar
                current.unicodeScalars.append(folded)
            }
        }
        guard !inQuotes else {
            throw PostgresError(kind: .client, message: "unterminated quote in \(text.debugDescription)")
        }
        try finish()
        return parts
    }
}

/// True when `scalar` may stand in an unquoted SQL identifier: a letter (any non-ASCII
/// character counts, as for PostgreSQL) or `_`, then also digits and `$`.
private func isIdentifierCharacter(_ scalar: Unicode.Scalar, first: Bool) -> Bool {
    if scalar.value >= 0x80 { return !scalar.properties.isWhitespace }
    switch scalar {
    case "a"..."z", "A"..."Z", "_": return true
    case "0"..."9", "$": return !first
    default: return false
    }
}

/// `identifier` in double quotes, with embedded double quotes doubled.
public func quoteIdentifier(_ identifier: String) -> String {
    "\"" + identifier.replacingAll("\"", with: "\"\"") + "\""
}

/// `text` as a standard-conforming SQL string literal (`'it''s'`).
///
/// For the few places SQL cannot take a bound parameter (utility statements such as COPY);
/// everything else binds values with `$n`.
public func quoteLiteral(_ text: String) -> String {
    "'" + text.replacingAll("'", with: "''") + "'"
}
