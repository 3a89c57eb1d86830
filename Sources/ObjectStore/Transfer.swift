import CCurl
import Foundation

/// The state of one libcurl transfer, reached from its C callbacks through their user
/// pointer: the body to send, what came back, and an error a consumer threw.
final class Transfer {
    let body: UnsafeRawBufferPointer?
    var sent = 0
    let receive: ((UnsafeRawBufferPointer) throws -> Void)?
    var received: [UInt8] = []
    var headers: [String: String] = [:]
    var status = 0
    var error: (any Error)?

    init(body: UnsafeRawBufferPointer?, receive: ((UnsafeRawBufferPointer) throws -> Void)?) {
        self.body = body
        self.receive = receive
    }

    private static func from(_ user: UnsafeMutableRawPointer?) -> Transfer {
        Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
    }

    static let write: pgsweep_curl_data_callback = { data, size, count, user in
        let transfer = Transfer.from(user)
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        if let receive = transfer.receive, (200..<300).contains(transfer.status) {
            do { try receive(bytes) } catch {
                transfer.error = error
                return 0  // ends the transfer
            }
        } else {
            transfer.received.append(contentsOf: bytes)
        }
        return size * count
    }

    static let header: pgsweep_curl_data_callback = { data, size, count, user in
        let transfer = Transfer.from(user)
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new response (after a 100 Continue, say): forget the previous one's headers.
            transfer.headers = [:]
            transfer.status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            transfer.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return size * count
    }

    static let read: pgsweep_curl_data_callback = { buffer, size, count, user in
        let transfer = Transfer.from(user)
        guard let body = transfer.body, let buffer else { return 0 }
        let length = min(size * count, body.count - transfer.sent)
        if length > 0 {
            UnsafeMutableRawPointer(buffer).copyMemory(from: body.baseAddress! + transfer.sent, byteCount: length)
            transfer.sent += length
        }
        return length
    }
}
