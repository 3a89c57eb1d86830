import CLibPQ
import Logging

/// Receives server notices for one connection and passes them to its logger.
final class NoticeSink {
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func receive(_ result: OpaquePointer) {
        let field = { (code: UInt8) -> String? in
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let severity = field(DiagnosticField.severityNonLocalized) ?? "NOTICE"
        let message = field(DiagnosticField.message) ?? ""
        var metadata: Logger.Metadata = ["pg.severity": .string(severity)]
        if let code = field(DiagnosticField.sqlState) { metadata["pg.sqlstate"] = .string(code) }
        if let detail = field(DiagnosticField.detail) { metadata["pg.detail"] = .string(detail) }
        if let hint = field(DiagnosticField.hint) { metadata["pg.hint"] = .string(hint) }
        let level: Logger.Level
        switch severity {
        case "WARNING": level = .warning
        case "NOTICE": level = .notice
        case "INFO", "LOG": level = .info
        default: level = .debug
        }
        logger.log(level: level, "server: \(message)", metadata: metadata)
    }
}

/// Passes a notice to the `NoticeSink` registered as the receiver's argument.
let noticeReceiver: PQnoticeReceiver = { argument, result in
    guard let argument, let result else { return }
    Unmanaged<NoticeSink>.fromOpaque(argument).takeUnretainedValue().receive(result)
}

/// libpq's `PG_DIAG_*` field codes (single characters in `postgres_ext.h`).
enum DiagnosticField {
    static let severityNonLocalized = UInt8(ascii: "V")
    static let sqlState = UInt8(ascii: "C")
    static let message = UInt8(ascii: "M")
    static let detail = UInt8(ascii: "D")
    static let hint = UInt8(ascii: "H")
    static let context = UInt8(ascii: "W")
}
