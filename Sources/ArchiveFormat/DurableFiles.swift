import Foundation
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// File-system steps whose order and durability the archive relies on.
public enum DurableFiles {
    /// Creates `path` and any missing parents (mode 0750), fsyncing each new folder's parent
    /// so the new entries survive a power loss.
    public static func makeDirectories(_ path: String) throws {
        var built = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            let parent = built.isEmpty ? "/" : built
            built += "/" + component
            if mkdir(built, 0o750) == 0 {
                try fsyncDirectory(parent)
            } else if errno != EEXIST {
                throw ioError("cannot create folder \(built)", path: built)
            } else {
                var info = stat()
                guard stat(built, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw ArchiveError(.io(errno: ENOTDIR), path: built, "\(built) exists and is not a folder")
                }
            }
        }
    }

    /// Flushes a folder's entries (new, renamed or removed files) to stable storage.
    public static func fsyncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open folder \(path)", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("cannot fsync folder \(path)", path: path) }
    }

    /// Creates a new file for writing, never following or replacing anything at `path`.
    public static func createExclusive(_ path: String, mode: mode_t = 0o640) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ioError("cannot create \(path)", path: path) }
        // The umask may have loosened nothing, but make the mode exact.
        _ = fchmod(fd, mode)
        return fd
    }

    /// Gives the file at `temporary` the name `final`, failing if `final` exists in any form
    /// (a file, a folder, a symbolic link): a hard link then removing the temporary name.
    public static func publish(_ temporary: String, as final: String) throws {
        guard link(temporary, final) == 0 else {
            if errno == EEXIST {
                throw ArchiveError(.io(errno: EEXIST), path: final, "\(final) already exists; archive files are never overwritten")
            }
            throw ioError("cannot link \(temporary) to \(final)", path: final)
        }
        guard unlink(temporary) == 0 else { throw ioError("cannot remove \(temporary)", path: temporary) }
    }

    /// Writes all of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        let code = FileIO.writeFully(fd, bytes)
        guard code == 0 else {
            throw ArchiveError(.io(errno: code), path: path, "cannot write \(path): \(String(cString: strerror(code)))")
        }
    }

    /// Free bytes for unprivileged users on the file system holding `path` (or its nearest
    /// existing parent).
    public static func freeSpace(at path: String) throws -> Int64 {
        var probe = path
        while !FileManager.default.fileExists(atPath: probe) {
            let parent = (probe as NSString).deletingLastPathComponent
            if parent == probe || parent.isEmpty { break }
            probe = parent
        }
        var info = statvfs()
        guard statvfs(probe.isEmpty ? "." : probe, &info) == 0 else { throw ioError("cannot read free space of \(probe)", path: probe) }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    static func ioError(_ what: String, path: String) -> ArchiveError {
        let code = errno
        return ArchiveError(.io(errno: code), path: path, "\(what): \(String(cString: strerror(code)))")
    }
}
