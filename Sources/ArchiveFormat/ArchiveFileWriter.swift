import Crypto
import Foundation
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// Writes one archive file: CSV in, zstd (with frame checksums) out, to a temporary name in
/// the final folder; counts rows, notes the id and `created_at` ranges and hashes the
/// compressed bytes on the way. Nothing is visible under the final name until `publish`.
public final class ArchiveFileWriter {
    /// The final path of the data file.
    public let path: String
    /// Where the bytes go until `publish`.
    public let temporaryPath: String
    private var fd: Int32
    private var compressor: ZstdCompressor!
    private var hasher = SHA256()
    private var scanner: CSVRowScanner
    private var written: Int64 = 0
    private var minID: Int64?
    private var maxID: Int64?
    private var minCreatedAt: String?
    private var maxCreatedAt: String?
    private var finished = false
    private var published = false

    /// Starts a file that will be published as `path`; `idColumn` and `createdAtColumn` are
    /// the positions of `id` and `created_at` in the CSV.
    public init(path: String, level: Int32, idColumn: Int, createdAtColumn: Int) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        temporaryPath = "\(folder)/.\((path as NSString).lastPathComponent).tmp"
        try DurableFiles.makeDirectories(folder)
        fd = try DurableFiles.createExclusive(temporaryPath)
        scanner = CSVRowScanner(capture: [idColumn, createdAtColumn])
        let target = temporaryPath
        compressor = try ZstdCompressor(level: level) { [unowned self] bytes in
            hasher.update(data: bytes)
            try DurableFiles.writeAll(fd, bytes, path: target)
            written += Int64(bytes.count)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !published { unlink(temporaryPath) }
    }

    /// Adds CSV bytes (any split of rows).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try scanner.consume(bytes) { values in
            if let text = values[0], let id = Int64(text) {
                minID = min(minID ?? id, id)
                maxID = max(maxID ?? id, id)
            }
            if let created = values[1] {
                // ISO text in one time zone sorts as time does.
                if minCreatedAt.map({ created < $0 }) ?? true { minCreatedAt = created }
                if maxCreatedAt.map({ created > $0 }) ?? true { maxCreatedAt = created }
            }
        }
        try compressor.write(bytes)
    }

    /// What a finished file holds, as its manifest records it.
    public struct Facts: Sendable, Equatable {
        /// Data rows (the header line not counted).
        public var rows: Int64
        /// Size of the compressed file.
        public var bytes: Int64
        /// SHA-256 of the compressed file, lower-case hex.
        public var sha256: String
        /// The CSV header's column names.
        public var header: [String]
        public var minID: Int64?
        public var maxID: Int64?
        public var minCreatedAt: String?
        public var maxCreatedAt: String?
    }

    /// Ends the frame, fsyncs and closes the file. Returns what it holds.
    ///
    /// A failed fsync is final: the file is never treated as safe afterwards.
    public func finish() throws -> Facts {
        precondition(!finished, "finish called twice")
        finished = true
        do {
            try scanner.finish()
        } catch {
            throw ArchiveError(.damaged, path: path, "the CSV stream ended badly: \(error)")
        }
        try compressor.finish()
        guard fsync(fd) == 0 else { throw DurableFiles.ioError("cannot fsync \(temporaryPath)", path: temporaryPath) }
        guard close(fd) == 0 else {
            fd = -1
            throw DurableFiles.ioError("cannot close \(temporaryPath)", path: temporaryPath)
        }
        fd = -1
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return Facts(
            rows: scanner.rows, bytes: written, sha256: digest, header: scanner.header ?? [], minID: minID, maxID: maxID,
            minCreatedAt: minCreatedAt, maxCreatedAt: maxCreatedAt)
    }

    /// Renames the data file into place, writes its manifest beside it the same way, and
    /// fsyncs the folder. Both names are created, never replaced.
    ///
    /// `between` runs after the data file has its name and before the manifest has its own
    /// (fault tests stop the process there).
    public func publish(manifest: ArchiveManifest, between: () -> Void = {}) throws {
        precondition(finished, "publish before finish")
        let folder = (path as NSString).deletingLastPathComponent
        try DurableFiles.publish(temporaryPath, as: path)
        published = true
        between()
        let manifestPath = ArchiveManifest.path(for: path)
        let manifestTemporary = "\(folder)/.\((manifestPath as NSString).lastPathComponent).tmp"
        let mfd = try DurableFiles.createExclusive(manifestTemporary)
        do {
            let data = try manifest.encoded()
            try data.withUnsafeBytes { try DurableFiles.writeAll(mfd, $0, path: manifestTemporary) }
            guard fsync(mfd) == 0 else { throw DurableFiles.ioError("cannot fsync \(manifestTemporary)", path: manifestTemporary) }
            close(mfd)
        } catch {
            close(mfd)
            unlink(manifestTemporary)
            throw error
        }
        try DurableFiles.publish(manifestTemporary, as: manifestPath)
        try DurableFiles.fsyncDirectory(folder)
    }
}
