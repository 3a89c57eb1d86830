import Foundation
import LibPQ
import Logging
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// `metrics.listen` for the daemon: a small HTTP server of our own on one thread, answering
/// `GET /metrics` (every metric of the table, read at most once per `metrics.cache`, so ten
/// scrapers cost one read) and `GET /healthz` (200 while the scheduler runs and the database
/// answers, 503 otherwise). Requests are answered one at a time, `Connection: close`: a
/// scraper every few seconds needs nothing more, and no dependency is worth that.
///
/// @unchecked Sendable: the cached answers and the scheduler's state sit behind `lock`; the
/// listening socket is only used by the server's thread after `start`.
public final class MetricsServer: @unchecked Sendable {
    private let config: PGSweepConfig
    private let logger: Logger
    private let connect: @Sendable () throws -> Connection
    private let lock = NSLock()
    private var socketFD: Int32 = -1
    private var cached: (at: Date, body: String)?
    private var health: (at: Date, ok: Bool, reason: String)?
    private var schedulerRunning = true
    /// The port listened on (useful when `metrics.listen` asks for port 0).
    public private(set) var port = 0

    public init(config: PGSweepConfig, logger: Logger, connect: @escaping @Sendable () throws -> Connection) {
        self.config = config
        self.logger = logger
        self.connect = connect
    }

    /// Binds `host:port` and starts answering on a thread of its own.
    ///
    /// - Throws: `PGSweepError.checkFailed` when the address cannot be bound.
    public func start(host: String, port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PGSweepError.checkFailed("metrics.listen: cannot open a socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw PGSweepError.checkFailed("metrics.listen: \(host) is not an IPv4 address")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw PGSweepError.checkFailed("metrics.listen: cannot listen on \(host):\(port): \(reason)")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        socketFD = fd
        let thread = Thread { [self] in serve() }
        thread.name = "pgsweep-metrics"
        thread.start()
        logger.info("serving /metrics and /healthz", metadata: [LogKey.listen: .string("\(host):\(self.port)")])
    }

    /// The scheduler has stopped: `/healthz` answers 503 from now on.
    public func schedulerStopped() { lock.withLock { schedulerRunning = false } }

    private func serve() {
        while true {
            let client = accept(socketFD, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        // A scraper that sends nothing for 5 s is dropped.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.contains(10), request.count < 16_384 {
            let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if count <= 0 { return }
            request += buffer[0..<count]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let (status, type, body): (String, String, String)
        switch (line.first, line.dropFirst().first.map { $0.split(separator: "?").first.map(String.init) ?? "" }) {
        case ("GET", "/metrics"):
            if let text = metrics() {
                (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", text)
            } else {
                (status, type, body) = ("503 Service Unavailable", "text/plain; charset=utf-8", "the database did not answer\n")
            }
        case ("GET", "/healthz"):
            let (ok, reason) = healthy()
            (status, type, body) = (ok ? "200 OK" : "503 Service Unavailable", "text/plain; charset=utf-8", reason + "\n")
        case ("GET", _):
            (status, type, body) = ("404 Not Found", "text/plain; charset=utf-8", "try /metrics or /healthz\n")
        default:
            (status, type, body) = ("405 Method Not Allowed", "text/plain; charset=utf-8", "GET only\n")
        }
        let payload = Array(body.utf8)
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        let response = Array(head.utf8) + payload
        _ = response.withUnsafeBytes { FileIO.writeFully(client, $0) }
    }

    /// The exposition, read afresh at most once per `metrics.cache`; nil when it cannot be read.
    private func metrics() -> String? {
        let now = Date()
        if let cached = lock.withLock({ self.cached }), now.timeIntervalSince(cached.at) < config.metrics.cache.seconds {
            return cached.body
        }
        do {
            let connection = try connect()
            defer { connection.close() }
            let body = try MetricsExporter.exposition(config: config, logger: logger, on: connection)
            lock.withLock { cached = (now, body) }
            lock.withLock { health = (now, true, "ok") }
            return body
        } catch {
            logger.warning("could not read metrics for a scrape", metadata: [LogKey.error: "\(error)"])
            lock.withLock { health = (now, false, "database unreachable: \(error)") }
            return nil
        }
    }

    /// True while the scheduler runs and the database answers (checked at most once per `metrics.cache`).
    private func healthy() -> (Bool, String) {
        guard lock.withLock({ schedulerRunning }) else { return (false, "the scheduler has stopped") }
        let now = Date()
        if let health = lock.withLock({ self.health }), now.timeIntervalSince(health.at) < config.metrics.cache.seconds {
            return (health.ok, health.reason)
        }
        do {
            let connection = try connect()
            defer { connection.close() }
            _ = try connection.query("SELECT 1")
            lock.withLock { health = (now, true, "ok") }
            return (true, "ok")
        } catch {
            let reason = "database unreachable: \(error)"
            lock.withLock { health = (now, false, reason) }
            return (false, reason)
        }
    }
}
