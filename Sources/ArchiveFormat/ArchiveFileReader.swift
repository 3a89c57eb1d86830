import Crypto
import Foundation
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// Checks and reads archive files.
public enum ArchiveFileReader {
    /// What `verify` found in a sound file.
    public struct Verified: Sendable {
        public var manifest: ArchiveManifest
        public var rows: Int64
    }

    /// Checks a file against its manifest: size, SHA-256, every zstd frame and its checksum,
    /// the CSV header, and the row count. Throws `ArchiveError` naming what is wrong.
    public static func verify(_ path: String) throws -> Verified {
        let manifest = try ArchiveManifest.read(path: ArchiveManifest.path(for: path), dataPath: path)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ArchiveError(.damaged, path: path, "the data file is missing")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? -1
        guard size == manifest.bytes else {
            throw ArchiveError(.damaged, path: path, "the file has \(size) bytes, its manifest says \(manifest.bytes)")
        }
        let digest = try sha256(of: path)
        guard digest == manifest.sha256 else {
            throw ArchiveError(.damaged, path: path, "SHA-256 \(digest) does not match the manifest's \(manifest.sha256)")
        }
        var scanner = CSVRowScanner(capture: [])
        do {
            try ZstdDecompressor().decompress(path: path) { bytes in try scanner.consume(bytes) { _ in } }
            try scanner.finish()
        } catch let error as ZstdError {
            throw ArchiveError(.damaged, path: path, error.description.replacingOccurrences(of: "\(path): ", with: ""))
        } catch let error as CSVError {
            throw ArchiveError(.damaged, path: path, "the CSV is incomplete: \(error)")
        }
        guard scanner.header == manifest.columns.map(\.name) else {
            throw ArchiveError(.damaged, path: path, "the CSV header does not match the manifest's columns")
        }
        guard scanner.rows == manifest.rows else {
            throw ArchiveError(.damaged, path: path, "the file holds \(scanner.rows) rows, its manifest says \(manifest.rows)")
        }
        return Verified(manifest: manifest, rows: scanner.rows)
    }

    /// Streams the decompressed CSV of `path` (header included) to `consume`.
    public static func stream(_ path: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        do {
            try ZstdDecompressor().decompress(path: path, consume)
        } catch let error as ZstdError {
            throw ArchiveError(.damaged, path: path, error.description)
        }
    }

    /// SHA-256 of a file, lower-case hex.
    public static func sha256(of path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DurableFiles.ioError("cannot open \(path)", path: path) }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw DurableFiles.ioError("cannot read \(path)", path: path)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
