/// A five-character SQLSTATE code reported by PostgreSQL.
///
/// Decisions are made by comparing codes, never by matching message text.
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// The two-character class of the code (`"23"` for integrity violations).
    public var errorClass: String { String(rawValue.prefix(2)) }
}

extension SQLState {
    // Class 08 — Connection Exception
    public static let connectionException = SQLState(rawValue: "08000")
    public static let connectionFailure = SQLState(rawValue: "08006")
    // Class 0A — Feature Not Supported
    public static let featureNotSupported = SQLState(rawValue: "0A000")
    // Class 23 — Integrity Constraint Violation
    public static let uniqueViolation = SQLState(rawValue: "23505")
    public static let checkViolation = SQLState(rawValue: "23514")
    // Class 25 — Invalid Transaction State
    public static let readOnlySQLTransaction = SQLState(rawValue: "25006")
    // Class 28 — Invalid Authorization Specification
    public static let invalidAuthorizationSpecification = SQLState(rawValue: "28000")
    public static let invalidPassword = SQLState(rawValue: "28P01")
    // Class 3D / 3F — Invalid Catalog / Schema Name
    public static let invalidCatalogName = SQLState(rawValue: "3D000")
    public static let invalidSchemaName = SQLState(rawValue: "3F000")
    // Class 40 — Transaction Rollback
    public static let serializationFailure = SQLState(rawValue: "40001")
    public static let deadlockDetected = SQLState(rawValue: "40P01")
    // Class 42 — Syntax Error or Access Rule Violation
    public static let syntaxError = SQLState(rawValue: "42601")
    public static let insufficientPrivilege = SQLState(rawValue: "42501")
    public static let undefinedColumn = SQLState(rawValue: "42703")
    public static let undefinedTable = SQLState(rawValue: "42P01")
    public static let undefinedObject = SQLState(rawValue: "42704")
    public static let duplicateTable = SQLState(rawValue: "42P07")
    public static let duplicateObject = SQLState(rawValue: "42710")
    // Class 53 — Insufficient Resources
    public static let diskFull = SQLState(rawValue: "53100")
    // Class 55 — Object Not In Prerequisite State
    public static let objectInUse = SQLState(rawValue: "55006")
    public static let lockNotAvailable = SQLState(rawValue: "55P03")
    // Class 57 — Operator Intervention
    public static let queryCanceled = SQLState(rawValue: "57014")
    public static let adminShutdown = SQLState(rawValue: "57P01")
}
