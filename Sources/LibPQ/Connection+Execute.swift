import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Connection {
    /// Runs one statement with bound parameters (`$1`, `$2`...) and returns its result.
    ///
    /// Parameter values are sent apart from the SQL text, so they are never parsed as SQL;
    /// `sql` must hold exactly one statement.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> QueryResult {
        let texts = parameters.map { $0?.postgresText }
        let copies = texts.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer<CChar>($0) }
        let result = pointers.withUnsafeBufferPointer { buffer in
            PQexecParams(handle, sql, Int32(buffer.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        return try check(result)
    }

    /// Runs trusted SQL text that may hold several statements (migrations, fixtures).
    ///
    /// Takes no parameters: never pass it text built from user input.
    public func executeScript(_ sql: String) throws {
        let result = PQexec(handle, sql)
        _ = try check(result)
        // PQexec returns the last result only; earlier ones were already consumed by libpq.
    }

    /// Runs `sql` and returns the rows it produced.
    public func query(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> QueryResult.Rows {
        try execute(sql, parameters).rows
    }

    /// Turns a libpq result into a `QueryResult`, or throws the error it carries.
    func check(_ result: OpaquePointer?) throws -> QueryResult {
        guard let result else { throw connectionError() }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return QueryResult(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            // Leave the connection usable: end the unexpected COPY and drain its results.
            _ = PQputCopyEnd(handle, "unexpected COPY")
            drainResults()
            throw PostgresError(kind: .client, message: "statement started a COPY; use copyIn/copyOut")
        default:
            let error = serverError(result)
            PQclear(result)
            throw error
        }
    }

    /// The error a failed result carries, with SQLSTATE, detail and hint.
    func serverError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        guard let sqlState = field(DiagnosticField.sqlState) else {
            // No SQLSTATE: the error came from libpq itself, typically a lost connection.
            let text = PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
            return connectionError(text.isEmpty ? nil : text.trimmingTrailingWhitespace())
        }
        var error = PostgresError(
            kind: .server,
            message: field(DiagnosticField.message) ?? "unknown server error",
            sqlState: SQLState(rawValue: sqlState),
            severity: field(DiagnosticField.severityNonLocalized),
            detail: field(DiagnosticField.detail),
            hint: field(DiagnosticField.hint),
            context: field(DiagnosticField.context)
        )
        error.endpoint = endpoint.description
        return error
    }

    /// An error of libpq's own (no SQLSTATE: typically a lost connection), naming where the
    /// connection pointed; `message` defaults to libpq's last error.
    func connectionError(_ message: String? = nil) -> PostgresError {
        var error = PostgresError(kind: .connection, message: message ?? lastErrorMessage())
        error.endpoint = endpoint.description
        return error
    }

    /// Reads and discards results until libpq has none left.
    func drainResults() {
        while let result = PQgetResult(handle) { PQclear(result) }
    }
}
