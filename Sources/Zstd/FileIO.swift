#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking reads and writes on a file descriptor that retry on EINTR and short writes.
enum FileIO {
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw ioError("write", errno)
            }
            offset += written
        }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
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
