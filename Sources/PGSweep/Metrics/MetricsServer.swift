import Foundation
import LibPQ
import Logging
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// `metrics.listen` for the daemon: a small HTTP server of our own, answering `GET` (and
/// `HEAD`) `/metrics` (every metric of the table, read at most once per `metrics.cache`, so
/// ten scrapers cost one read) and `/healthz` (200 while the scheduler runs and the database
/// answers, 503 otherwise), `Connection: close`.
///
/// One thread reads every client's request head with poll(2), each against a whole deadline
/// (`headDeadline`, however slowly it dribbles bytes), so idle or slow clients cost a file
/// descriptor, never a turn; complete requests are answered side by side, each on a thread of
/// its own, up to `maxClients` at once (one more gets 503 at once). So one slow or idle client
/// never holds up another, and a liveness probe on `/healthz` never waits behind a slow
/// scrape (the two read the database under locks of their own).
///
/// @unchecked Sendable: the cached answers, the scheduler's state and the client count sit
/// behind `lock`; the listening socket is only used by the accepting thread after `start`,
/// and closed by `stop`.
public final class MetricsServer: @unchecked Sendable {
    private let config: PGSweepConfig
    private let logger: Logger
    private let connect: @Sendable () throws -> Connection
    private let lock = NSLock()
    private var socketFD: Int32 = -1
    private var cached: (at: Date, body: String)?
    private var health: (at: Date, ok: Bool, reason: String)?
    private var schedulerRunning = true
    private var clients = 0
    private var stopped = false
    /// The write end of the pipe that wakes the serving thread for `stop`.
    private var wakeFD: Int32 = -1
    /// Held while the exposition is read, so scrapes arriving together wait for one read.
    private let metricsRead = NSLock()
    /// Held while the database's health is checked, apart from `metricsRead`.
    private let healthRead = NSLock()

    /// Requests answered at once; one more is told 503 at once. Defaults to 32.
    public var maxClients = 32
    /// The time a client has to send its whole request head. Defaults to three seconds.
    public var headDeadline: TimeInterval = 3
    /// The time a client has to take the answer. Defaults to ten seconds.
    public var sendDeadline: TimeInterval = 10
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

    /// Stops accepting clients; answers under way finish.
    public func stop() {
        let wake: Int32 = lock.withLock {
            stopped = true
            return wakeFD
        }
        if wake >= 0 {
            var byte: UInt8 = 1
            _ = write(wake, &byte, 1)
        }
    }

    /// A client whose request head is still coming.
    private struct Pending {
        var fd: Int32
        var head: [UInt8] = []
        var deadline: Date
    }

    /// One thread reads every client's request head with poll(2), each against its own
    /// deadline, so idle or dribbling clients cost a file descriptor, never a thread; a
    /// complete request is answered on a thread of its own (up to `maxClients` at once).
    private func serve() {
        var pending: [Pending] = []
        var wake = [Int32](repeating: -1, count: 2)
        guard pipe(&wake) == 0 else { return }
        lock.withLock { wakeFD = wake[1] }
        defer {
            for client in pending { close(client.fd) }
            close(wake[0])
            close(wake[1])
            close(socketFD)
        }
        _ = fcntl(socketFD, F_SETFL, fcntl(socketFD, F_GETFL) | O_NONBLOCK)
        while !lock.withLock({ stopped }) {
            var fds = [pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0)]
            fds += pending.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let soonest = pending.map(\.deadline).min().map { max(0, $0.timeIntervalSinceNow) }
            let polled = poll(&fds, nfds_t(fds.count), soonest.map { Int32(min(60_000, $0 * 1000) + 1) } ?? -1)
            if polled < 0 && errno != EINTR { return }
            let now = Date()
            var kept: [Pending] = []
            for (index, var client) in pending.enumerated() {
                let events = fds[index + 2].revents
                if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let count = buffer.withUnsafeMutableBytes { read(client.fd, $0.baseAddress, $0.count) }
                    if count <= 0 {
                        close(client.fd)
                        continue
                    }
                    client.head += buffer[0..<count]
                    if client.head.contains(10) || client.head.count >= 16_384 {
                        dispatch(client)
                        continue
                    }
                }
                if client.deadline <= now {
                    close(client.fd)  // the whole head did not come in time
                    continue
                }
                kept.append(client)
            }
            pending = kept
            if fds[0].revents & Int16(POLLIN) != 0 {
                while true {
                    let client = accept(socketFD, nil, nil)
                    guard client >= 0 else { break }
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) & ~O_NONBLOCK)
                    if pending.count >= Self.maxPending {
                        close(client)
                    } else {
                        pending.append(Pending(fd: client, deadline: Date().addingTimeInterval(headDeadline)))
                    }
                }
            }
        }
    }

    /// Clients whose request head may be awaited at once; one more is closed at once.
    static let maxPending = 512

    /// Answers a complete request on a thread of its own, or with 503 at once when
    /// `maxClients` are being answered already.
    private func dispatch(_ client: Pending) {
        let admitted = lock.withLock {
            guard clients < maxClients else { return false }
            clients += 1
            return true
        }
        guard admitted else {
            send(client.fd, status: "503 Service Unavailable", type: "text/plain; charset=utf-8", body: "too many clients\n", head: false)
            close(client.fd)
            return
        }
        let thread = Thread { [self] in
            handle(client.fd, request: client.head)
            close(client.fd)
            lock.withLock { clients -= 1 }
        }
        thread.name = "pgsweep-metrics-client"
        thread.start()
    }

    private func handle(_ client: Int32, request: [UInt8]) {
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let method = line.first.map(String.init) ?? ""
        let path = line.dropFirst().first.map { $0.split(separator: "?").first.map(String.init) ?? "" }
        let head = method == "HEAD"
        let (status, type, body): (String, String, String)
        switch (method == "GET" || head ? "GET" : method, path) {
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
            (status, type, body) = ("405 Method Not Allowed", "text/plain; charset=utf-8", "GET or HEAD only\n")
        }
        send(client, status: status, type: type, body: body, head: head)
    }

    /// Sends the answer (headers only for HEAD), giving up after `sendDeadline`.
    private func send(_ client: Int32, status: String, type: String, body: String, head: Bool) {
        var timeout = timeval(tv_sec: Int(sendDeadline), tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let payload = Array(body.utf8)
        let headers = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        let response = Array(headers.utf8) + (head ? [] : payload)
        _ = response.withUnsafeBytes { FileIO.writeFully(client, $0) }
    }

    /// The exposition, read afresh at most once per `metrics.cache`; nil when it cannot be read.
    private func metrics() -> String? {
        if let fresh = freshMetrics() { return fresh }
        metricsRead.lock()
        defer { metricsRead.unlock() }
        // Another scrape may have read it while this one waited.
        if let fresh = freshMetrics() { return fresh }
        let now = Date()
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

    private func freshMetrics() -> String? {
        guard let cached = lock.withLock({ self.cached }), Date().timeIntervalSince(cached.at) < config.metrics.cache.seconds else { return nil }
        return cached.body
    }

    private func freshHealth() -> (Bool, String)? {
        guard let health = lock.withLock({ self.health }), Date().timeIntervalSince(health.at) < config.metrics.cache.seconds else { return nil }
        return (health.ok, health.reason)
    }

    /// True while the scheduler runs and the database answers (checked at most once per `metrics.cache`).
    private func healthy() -> (Bool, String) {
        guard lock.withLock({ schedulerRunning }) else { return (false, "the scheduler has stopped") }
        if let fresh = freshHealth() { return fresh }
        healthRead.lock()
        defer { healthRead.unlock() }
        if let fresh = freshHealth() { return fresh }
        let now = Date()
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
