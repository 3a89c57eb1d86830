import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A data file written under `.<name>.tmp` in its final folder, fsynced by `finish`, linked
/// to its name by `publish`.
final class LocalObjectWriter: ArchiveObjectWriter {
    let path: String
    let temporaryPath: String
    private var fd: Int32
    private var published = false

    static func temporaryPath(for path: String) -> String {
        "\((path as NSString).deletingLastPathComponent)/.\((path as NSString).lastPathComponent).tmp"
    }

    init(path: String) throws {
        self.path = path
        temporaryPath = Self.temporaryPath(for: path)
        try DurableFiles.makeDirectories((path as NSString).deletingLastPathComponent)
        fd = try DurableFiles.createExclusive(temporaryPath)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !published { unlink(temporaryPath) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try DurableFiles.writeAll(fd, bytes, path: temporaryPath) }

    /// A failed fsync is final: the file is never treated as safe afterwards.
    func finish() throws {
        guard fsync(fd) == 0 else { throw DurableFiles.ioError("cannot fsync \(temporaryPath)", path: temporaryPath) }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw DurableFiles.ioError("cannot close \(temporaryPath)", path: temporaryPath) }
    }

    func publish(bytes: Int64, sha256: String) throws {
        var info = stat()
        guard stat(temporaryPath, &info) == 0, Int64(info.st_size) == bytes else {
            throw ArchiveError(.damaged, path: path, "the file written is not \(bytes) bytes long")
        }
        try DurableFiles.publish(temporaryPath, as: path)
        published = true
    }
}
