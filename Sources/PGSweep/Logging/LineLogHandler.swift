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
    private var statusLineShown = false

    public static let standardError = LineSink(handle: FileHandle.standardError)

    /// Draws `text` as a status line that the next log line replaces (a progress bar).
    public func showStatusLine(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        handle?.write(Data(("\r\u{1B}[K" + text).utf8))
        statusLineShown = true
    }

    /// Ends the status line, leaving it on screen.
    public func endStatusLine() {
        lock.lock()
        defer { lock.unlock() }
        if statusLineShown { handle?.write(Data("\n".utf8)) }
        statusLineShown = false
    }

    /// A sink writing to `handle`, or collecting lines in memory when it is nil (tests).
    public init(handle: FileHandle?) { self.handle = handle }

    public func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        if let handle {
            // A log line replaces a status line rather than running into it.
            handle.write(Data(((statusLineShown ? "\r\u{1B}[K" : "") + line).utf8))
            statusLineShown = false
        } else {
            collected.append(line)
        }
    }

    /// Lines collected so far, for a sink without a handle.
    public var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }
}
