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
        let (store, key) = LocalArchiveStore.containing(path)
        return try verify(store, key)
    }

    /// Checks the data file `key` of `store` against its manifest, reading it once.
    public static func verify(_ store: any ArchiveStore, _ key: String) throws -> Verified {
        let path = store.describe(key)
        let manifest = try store.manifest(of: key)
        var hasher = SHA256()
        var size: Int64 = 0
        var scanner = CSVRowScanner(capture: [])
        let decompressor = try ZstdDecompressor()
        decompressor.begin()
        // The size and SHA-256 are checked first, so bytes are hashed to the end even after
        // the content has failed; what failed is reported when they match.
        var contentFailure: String?
        try store.read(key) { bytes in
            hasher.update(bufferPointer: bytes)
            size += Int64(bytes.count)
            guard contentFailure == nil else { return }
            do {
                try decompressor.feed(bytes) { try scanner.consume($0) { _ in } }
            } catch {
                contentFailure = Self.reason(error, path: path)
            }
        }
        if contentFailure == nil {
            do {
                try decompressor.end()
                try scanner.finish()
            } catch {
                contentFailure = Self.reason(error, path: path)
            }
        }
        guard size == manifest.bytes else {
            throw ArchiveError(.damaged, path: path, "the file has \(size) bytes, its manifest says \(manifest.bytes)")
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard digest == manifest.sha256 else {
            throw ArchiveError(.damaged, path: path, "SHA-256 \(digest) does not match the manifest's \(manifest.sha256)")
        }
        if let contentFailure { throw ArchiveError(.damaged, path: path, contentFailure) }
        guard scanner.header == manifest.columns.map(\.name) else {
            throw ArchiveError(.damaged, path: path, "the CSV header does not match the manifest's columns")
        }
        guard scanner.rows == manifest.rows else {
            throw ArchiveError(.damaged, path: path, "the file holds \(scanner.rows) rows, its manifest says \(manifest.rows)")
        }
        return Verified(manifest: manifest, rows: scanner.rows)
    }

    private static func reason(_ error: any Error, path: String) -> String {
        switch error {
        case let error as ZstdError: return error.description.replacingOccurrences(of: "\(path): ", with: "")
        case let error as CSVError: return "the CSV is incomplete: \(error)"
        default: return "\(error)"
        }
    }

    /// Streams the decompressed CSV of `path` (header included) to `consume`.
    public static func stream(_ path: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        let (store, key) = LocalArchiveStore.containing(path)
        try stream(store, key, consume)
    }

    /// Streams the decompressed CSV of the data file `key` (header included) to `consume`.
    public static func stream(_ store: any ArchiveStore, _ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        do {
            let decompressor = try ZstdDecompressor()
            decompressor.begin()
            try store.read(key) { try decompressor.feed($0, consume) }
            try decompressor.end()
        } catch let error as ZstdError {
            throw ArchiveError(.damaged, path: store.describe(key), error.description)
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
