import Foundation
import Logging

/// Loggers for tests: silent, or collecting lines in memory for assertions.
public enum TestLogging {
    /// A logger that drops everything.
    public static let silent = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A logger whose events land in `store`.
    public static func collecting(into store: LogStore, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "test") { _ in CollectingLogHandler(store: store) }
        logger.logLevel = level
        return logger
    }
}

/// Events collected by `CollectingLogHandler`.
public final class LogStore: @unchecked Sendable {
    // @unchecked Sendable: `events` is only touched under `lock`.
    private let lock = NSLock()
    private var events: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] = []

    public init() {}

    func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        lock.lock()
        events.append((level, message, metadata))
        lock.unlock()
    }

    /// Every collected event.
    public var all: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }
}

/// A swift-log handler that keeps events in a `LogStore`.
public struct CollectingLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace
    let store: LogStore

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        store.append(event.level, "\(event.message)", merged)
    }
}
