import CLibPQ

/// Cancels the statement running on the connection it came from.
///
/// `@unchecked Sendable`: libpq documents `PQcancel` as safe to call from any thread (it is
/// meant for signal handlers), and the `PGcancel` object is never changed after creation.
public final class CancelHandle: @unchecked Sendable {
    private let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }

    deinit { PQfreeCancel(handle) }

    /// Asks the server to cancel the running statement. Returns false, with libpq's reason,
    /// when the request could not be sent; a sent request may still arrive too late to matter.
    @discardableResult
    public func cancel() -> (sent: Bool, error: String?) {
        var buffer = [CChar](repeating: 0, count: 256)
        let sent = PQcancel(handle, &buffer, Int32(buffer.count)) == 1
        let reason = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        return (sent, sent ? nil : String(decoding: reason, as: UTF8.self))
    }
}
