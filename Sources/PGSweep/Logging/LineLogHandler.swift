import Foundation
import Logging

/// A swift-log handler writing one line per event to a file handle (stderr by default).
///
/// Only the executable installs it; libraries just take a `Logger`.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String
    private let format: LogFormat
    private let sink: LineSink

    public init(label: String, format: LogFormat, sink: LineSink = .standardError) {
        self.label = label
        self.format = format
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line: String
        switch format {
        case .json: line = LogLine.json(level: event.level, message: "\(event.message)", metadata: merged, date: Date())
        case .text: line = LogLine.text(level: event.level, message: "\(event.message)", metadata: merged, date: Date())
        }
        sink.write(line + "\n")
    }
}

/// Where log lines go; writes are serialized so lines never interleave.
public final class LineSink: @unchecked Sendable {
    // @unchecked Sendable: every access to `handle` and `collected` happens under `lock`.
    private let lock = NSLock()
    private let handle: FileHandle?
    private var collected: [String] = []

    public static let standardError = LineSink(handle: FileHandle.standardError)

    /// A sink writing to `handle`, or collecting lines in memory when it is nil (tests).
    public init(handle: FileHandle?) { self.handle = handle }

    public func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        if let handle { handle.write(Data(line.utf8)) } else { collected.append(line) }
    }

    /// Lines collected so far, for a sink without a handle.
    public var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }
}
