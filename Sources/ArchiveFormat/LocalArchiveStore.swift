import Foundation
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// Archive files in a local folder: written under a temporary name, fsynced, given their
/// name by a hard link (never replacing anything), their folder fsynced.
public final class LocalArchiveStore: ArchiveStore {
    public let root: String

    public init(root: String) { self.root = root }

    /// The store of the folder holding the file `path`, and the file's key in it.
    public static func containing(_ path: String) -> (LocalArchiveStore, String) {
        let folder = (path as NSString).deletingLastPathComponent
        return (LocalArchiveStore(root: folder.isEmpty ? "." : folder), (path as NSString).lastPathComponent)
    }

    public var location: String { root }

    public func describe(_ key: String) -> String { "\(root)/\(key)" }

    public func create(_ key: String) throws -> any ArchiveObjectWriter { try LocalObjectWriter(path: describe(key)) }

    public func createSmall(_ key: String, bytes: Data) throws {
        let path = describe(key)
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = LocalObjectWriter.temporaryPath(for: path)
        try DurableFiles.makeDirectories(folder)
        let fd = try DurableFiles.createExclusive(temporary)
        do {
            try bytes.withUnsafeBytes { try DurableFiles.writeAll(fd, $0, path: temporary) }
            guard fsync(fd) == 0 else { throw DurableFiles.ioError("cannot fsync \(temporary)", path: temporary) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        try DurableFiles.publish(temporary, as: path)
        try DurableFiles.fsyncDirectory(folder)
    }

    public func dataKeys(under prefix: String) throws -> [String] {
        ArchivePaths.dataFiles(under: describe(prefix)).map { ArchivePaths.relative($0, to: root) }
    }

    public func incompleteWrites(under prefix: String) throws -> [IncompleteWrite] {
        ArchivePaths.temporaryFiles(under: describe(prefix)).map {
            IncompleteWrite(key: ArchivePaths.relative($0, to: root), detail: "temporary file of an interrupted write")
        }
    }

    public func read(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        let path = describe(key)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw ArchiveError(.damaged, path: path, "the data file is missing") }
            throw DurableFiles.ioError("cannot open \(path)", path: path)
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try buffer.withUnsafeMutableBytes { bytes in
                do { return try FileIO.readSome(fd, into: bytes) } catch {
                    throw ArchiveError(.io(errno: EIO), path: path, "cannot read \(path): \(error)")
                }
            }
            if count == 0 { return }
            try buffer.withUnsafeBytes { try consume(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    public func contents(_ key: String) throws -> Data? { FileManager.default.contents(atPath: describe(key)) }

    public func remove(_ keys: [String]) throws {
        var folders = Set<String>()
        for key in keys {
            let path = describe(key)
            guard unlink(path) == 0 || errno == ENOENT else {
                throw ArchiveError(.io(errno: errno), path: path, "cannot remove \(path): \(String(cString: strerror(errno)))")
            }
            folders.insert((path as NSString).deletingLastPathComponent)
        }
        for folder in folders.sorted() { try DurableFiles.fsyncDirectory(folder) }
    }

    public func abandon(_ writes: [IncompleteWrite]) throws { try remove(writes.map(\.key)) }
}
