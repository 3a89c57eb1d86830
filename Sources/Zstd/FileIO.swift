#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking reads and writes on a file descriptor that retry on EINTR and short writes.
public enum FileIO {
    /// Writes all of `bytes` to `fd`, retrying interrupted and short writes. Returns 0, or
    /// the `errno` of the write that failed, for the caller to report in its own terms.
    public static func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let base = bytes.baseAddress else { return 0 }
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return 0
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        let code = writeFully(fd, bytes)
        if code != 0 { throw ioError("write", code) }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw ioError("read", errno)
        }
    }

    static func ioError(_ operation: String, _ code: Int32) -> ZstdError {
        ZstdError(kind: .io(errno: code), reason: "\(operation) failed: \(String(cString: strerror(code)))")
    }
}
