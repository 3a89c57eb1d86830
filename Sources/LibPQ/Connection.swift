import CLibPQ
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection to a PostgreSQL server.
///
/// A connection runs one statement at a time and is not safe to share between threads;
/// `cancelHandle()` gives a value that can cancel its running statement from anywhere.
public final class Connection {
    let handle: OpaquePointer
    private let noticeSink: NoticeSink
    /// The logger that receives server notices and warnings.
    public let logger: Logger
    private var closed = false

    /// Connects with `conninfo` (a `key=value` string or a `postgresql://` URI); when it is
    /// nil, only libpq's defaults apply (`PGHOST`, `PGPASSWORD`, `~/.pgpass`, `PGSERVICE`...).
    ///
    /// The session always uses UTF-8, ISO dates and UTC, whatever the server's defaults, so
    /// that values read back have one meaning. Unless the string or `PGCONNECT_TIMEOUT`
    /// says otherwise, connecting gives up after ten seconds.
    ///
    /// - Throws: `PostgresError` of kind `.connection`; its message names host, port,
    ///   database and user, and never the password. A string libpq cannot parse is refused
    ///   before libpq sees it, with a message that never quotes it (`Conninfo.parseError`).
    public init(conninfo: String?, applicationName: String = "pgsweep", logger: Logger) throws {
        var keywords: [String] = ["fallback_application_name"]
        var values: [String] = [applicationName]
        if getenv("PGCONNECT_TIMEOUT") == nil {
            keywords.append("connect_timeout")
            values.append("10")
        }
        if let conninfo, !conninfo.isEmpty {
            if let problem = Conninfo.parseError(conninfo) {
                throw PostgresError(kind: .connection, message: "could not connect to PostgreSQL: \(problem)")
            }
            keywords.append("dbname")
            values.append(conninfo)
        }
        keywords.append("client_encoding")
        values.append("UTF8")

        let conn: OpaquePointer? = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let conn else {
            throw PostgresError(kind: .connection, message: "could not connect: libpq is out of memory")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let error = Connection.connectionError(conn, conninfo: conninfo)
            PQfinish(conn)
            throw error
        }
        self.handle = conn
        self.logger = logger
        self.noticeSink = NoticeSink(logger: logger)
        PQsetNoticeReceiver(conn, noticeReceiver, Unmanaged.passUnretained(noticeSink).toOpaque())
        do {
            try executeScript(
                "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3")
        } catch {
            PQfinish(conn)
            closed = true
            throw error
        }
    }

    deinit {
        if !closed { PQfinish(handle) }
    }

    /// Closes the connection. Using it afterwards is a programming error.
    public func close() {
        guard !closed else { return }
        closed = true
        PQfinish(handle)
    }

    /// The server's version as an integer, `150018` for 15.18.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// A server parameter reported at connect time (`server_version`, `TimeZone`...).
    public func parameterStatus(_ name: String) -> String? {
        PQparameterStatus(handle, name).map { String(cString: $0) }
    }

    /// Host, port, database and user of this connection, without the password.
    public var endpoint: Endpoint { Endpoint(connection: handle) }

    /// True while no transaction is open on this connection.
    public var isIdle: Bool { PQtransactionStatus(handle) == PQTRANS_IDLE }

    /// True when the connection is still usable.
    public var isHealthy: Bool { !closed && PQstatus(handle) == CONNECTION_OK }

    /// A value that cancels this connection's running statement; safe to use from any thread.
    public func cancelHandle() -> CancelHandle? {
        PQgetCancel(handle).map(CancelHandle.init)
    }

    static func connectionError(_ conn: OpaquePointer, conninfo: String?) -> PostgresError {
        let endpoint = Endpoint(connection: conn)
        var reason = PQerrorMessage(conn).map { String(cString: $0) } ?? "unknown error"
        reason = reason.trimmingTrailingWhitespace()
        let password = PQpass(conn).map { String(cString: $0) }
        reason = Conninfo.mask(password, in: reason)
        if let conninfo {
            if let typed = Conninfo.parse(conninfo)?["password"] {
                reason = Conninfo.mask(typed, in: reason)
            }
            reason = Conninfo.mask(conninfo, in: reason)
        }
        return PostgresError(
            kind: .connection, message: "could not connect to PostgreSQL (\(endpoint)): \(reason)")
    }

    /// The libpq error message of this connection, with any password masked.
    func lastErrorMessage() -> String {
        let text = PQerrorMessage(handle).map { String(cString: $0) } ?? "unknown error"
        return Conninfo.mask(PQpass(handle).map { String(cString: $0) }, in: text)
            .trimmingTrailingWhitespace()
    }
}

/// Where a connection points: host (or socket directory), port, database and user.
public struct Endpoint: Sendable, CustomStringConvertible {
    public var host: String
    public var port: String
    public var database: String
    public var user: String

    init(connection conn: OpaquePointer) {
        func read(_ f: (OpaquePointer?) -> UnsafeMutablePointer<CChar>?) -> String {
            f(conn).map { String(cString: $0) } ?? ""
        }
        host = read(PQhost)
        port = read(PQport)
        database = read(PQdb)
        user = read(PQuser)
    }

    public var description: String {
        "host=\(host.isEmpty ? "(default)" : host) port=\(port.isEmpty ? "(default)" : port) "
            + "dbname=\(database) user=\(user)"
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
func withCStringArray<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) } + [nil])
}
