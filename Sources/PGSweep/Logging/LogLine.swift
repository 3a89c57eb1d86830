import Foundation
import Logging

/// Formats log events as single lines.
enum LogLine {
    static func json(level: Logger.Level, message: String, metadata: Logger.Metadata, date: Date) -> String {
        var object: [String: Any] = [
            LogKey.timestamp: timestamp(date), LogKey.level: level.rawValue, LogKey.message: message,
        ]
        for (key, value) in metadata { object[key] = plain(value) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return "{\"level\":\"error\",\"msg\":\"unencodable log line\"}" }
        return text
    }

    static func text(level: Logger.Level, message: String, metadata: Logger.Metadata, date: Date) -> String {
        var line = "\(timestamp(date)) \(level.rawValue.uppercased()) \(message)"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(metadata[key]!.description.quotedIfNeeded)"
        }
        return line
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    private static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let value):
            if let number = value as? any BinaryInteger { return Int64(number) }
            if let number = value as? Double { return number }
            if let flag = value as? Bool { return flag }
            return value.description
        case .array(let values): return values.map(plain)
        case .dictionary(let values): return values.mapValues(plain)
        }
    }
}

extension String {
    fileprivate var quotedIfNeeded: String {
        contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? debugDescription : self
    }
}
