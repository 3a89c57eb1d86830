/// An error from libpq or the PostgreSQL server.
///
/// Server errors carry the SQLSTATE and the server's message, detail and hint. No password
/// and no bound parameter value is ever placed in an error by this module.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Where the error arose.
    public enum Kind: String, Sendable {
        /// The connection could not be made or was lost.
        case connection
        /// The server rejected a statement.
        case server
        /// A value could not be read as the requested Swift type.
        case decoding
        /// The client used the connection wrongly (for example, an unexpected result kind).
        case client
    }

    public var kind: Kind
    public var sqlState: SQLState?
    /// Non-localized severity (`ERROR`, `FATAL`, ...), when the server gave one.
    public var severity: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The server's context line (for example, the PL/pgSQL call stack).
    public var context: String?
    /// Host, port, database and user of the connection the error arose on (never the
    /// password), when known; a lost connection's `description` names them.
    public var endpoint: String?

    public init(
        kind: Kind, message: String, sqlState: SQLState? = nil, severity: String? = nil,
        detail: String? = nil, hint: String? = nil, context: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.severity = severity
        self.detail = detail
        self.hint = hint
        self.context = context
    }

    /// True when the connection can no longer be used.
    public var isConnectionLost: Bool {
        kind == .connection || sqlState?.errorClass == "08" || sqlState == .adminShutdown
    }

    public var description: String {
        var text = message
        if isConnectionLost, let endpoint, !message.contains(endpoint) {
            text = "lost the connection to PostgreSQL (\(endpoint)): \(message)"
        }
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let hint { text += "; hint: \(hint)" }
        return text
    }

    public var debugDescription: String {
        var text = description
        if let detail { text += "; detail: \(detail)" }
        if let context { text += "; context: \(context)" }
        return text
    }
}
