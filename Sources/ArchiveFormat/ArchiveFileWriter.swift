import Crypto
import Foundation
import Zstd

/// Writes one archive file to a store: CSV in, zstd (with frame checksums) out; counts
/// rows, notes the id and `created_at` ranges and hashes the compressed bytes on the way.
/// Nothing is visible under the file's key until `publish`.
///
/// The scanning, compression, hashing and storing run on a thread of the writer's own, fed
/// through a short queue, so the caller goes on receiving rows from the server meanwhile.
public final class ArchiveFileWriter: @unchecked Sendable {
    // @unchecked Sendable: the compression state (compressor, hasher, scanner, object and the
    // ranges) is touched only by the writer's thread between `init` and the end of `finish`'s
    // wait for it, and by the caller's thread only after that wait; the queue is shared under
    // `condition`.
    /// The data file's key in the store.
    public let key: String
    /// The data file's full name (a path or an `s3://` URL), for messages.
    public let path: String
    private let store: any ArchiveStore
    private let object: any ArchiveObjectWriter
    private var compressor: ZstdCompressor!
    private var hasher = SHA256()
    private var scanner: CSVRowScanner
    private var written: Int64 = 0
    private var ranges = ArchiveRanges()
    private var facts: Facts?
    private let pipeline = Pipeline()
    private var running = false

    /// The chunks on their way to the writer's thread, and what it met.
    private final class Pipeline: @unchecked Sendable {
        // @unchecked Sendable: every field is touched only under `condition`.
        let condition = NSCondition()
        /// Chunks waiting; nil marks the end.
        var queue: [[UInt8]?] = []
        var failure: (any Error)?
        /// True while the writer's thread handles a chunk it took.
        var busy = false
        /// Chunks (of up to 256 kB each) that may wait before `write` blocks.
        static let limit = 4

        /// The next chunk to handle, waiting for one; nil at the end mark. After an error the
        /// chunks are taken and dropped (`handle` false).
        func take() -> (chunk: [UInt8], handle: Bool)? {
            condition.lock()
            defer { condition.unlock() }
            while queue.isEmpty { condition.wait() }
            guard let next = queue.removeFirst() else { return nil }
            busy = true
            condition.broadcast()
            return (next, failure == nil)
        }

        /// The chunk taken last is handled, with `error` if it failed.
        func handled(_ error: (any Error)?) {
            condition.lock()
            if failure == nil { failure = error }
            busy = false
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Starts the data file `key` of `store`; `idColumn` and `createdAtColumn` are the
    /// positions of `id` and `created_at` in the CSV.
    public init(store: any ArchiveStore, key: String, level: Int32, idColumn: Int, createdAtColumn: Int) throws {
        self.store = store
        self.key = key
        path = store.describe(key)
        object = try store.create(key)
        scanner = CSVRowScanner(capture: [idColumn, createdAtColumn])
        compressor = try ZstdCompressor(level: level) { [unowned self] bytes in
            hasher.update(data: bytes)
            try object.write(bytes)
            written += Int64(bytes.count)
        }
    }

    /// Adds CSV bytes (any split of rows). Throws the error the writer's thread met, if any.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(chunk: [UInt8](bytes))
    }

    /// Adds CSV bytes (any split of rows), taking the array as it is. Throws the error the
    /// writer's thread met, if any.
    public func write(chunk: [UInt8]) throws {
        if !running {
            running = true
            // The thread holds the writer weakly: a writer dropped unfinished ends it (deinit).
            let pipeline = pipeline
            let thread = Thread { [weak self] in
                while let (chunk, handle) = pipeline.take() {
                    var failure: (any Error)?
                    if handle, let writer = self {
                        do { try chunk.withUnsafeBytes { try writer.consume($0) } } catch { failure = error }
                    }
                    pipeline.handled(failure)
                }
            }
            thread.name = "pgsweep-archive-writer"
            thread.start()
        }
        pipeline.condition.lock()
        defer { pipeline.condition.unlock() }
        while pipeline.queue.count >= Pipeline.limit && pipeline.failure == nil { pipeline.condition.wait() }
        if let failure = pipeline.failure { throw failure }
        pipeline.queue.append(chunk)
        pipeline.condition.broadcast()
    }

    deinit {
        // Ends the thread of a writer dropped before `finish`.
        pipeline.condition.lock()
        pipeline.queue.append(nil)
        pipeline.condition.broadcast()
        pipeline.condition.unlock()
    }

    /// Waits until the writer's thread has handled every chunk queued; rethrows what it met.
    private func drain() throws {
        pipeline.condition.lock()
        defer { pipeline.condition.unlock() }
        while !pipeline.queue.isEmpty || pipeline.busy { pipeline.condition.wait() }
        if let failure = pipeline.failure { throw failure }
    }

    /// Scans, compresses, hashes and stores one chunk (on the writer's thread).
    private func consume(_ bytes: UnsafeRawBufferPointer) throws {
        // Noted in a local copy: the writer's own fields are touched once a chunk, not once a row.
        var noted = ArchiveRanges()
        swap(&noted, &ranges)
        defer { swap(&noted, &ranges) }
        try scanner.scan(bytes) { noted.note($0) }
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

    /// Ends the frame and stores every byte durably (still under no visible name). Returns
    /// what the file holds.
    ///
    /// A failed fsync is final: the file is never treated as safe afterwards.
    public func finish() throws -> Facts {
        precondition(facts == nil, "finish called twice")
        try drain()
        do {
            try scanner.finish()
        } catch {
            throw ArchiveError(.damaged, path: path, "the CSV stream ended badly: \(error)")
        }
        try compressor.finish()
        try object.finish()
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let facts = Facts(
            rows: scanner.rows, bytes: written, sha256: digest, header: scanner.header ?? [], minID: ranges.minID,
            maxID: ranges.maxID, minCreatedAt: ranges.minCreatedAt.map { String(decoding: $0, as: UTF8.self) },
            maxCreatedAt: ranges.maxCreatedAt.map { String(decoding: $0, as: UTF8.self) })
        self.facts = facts
        return facts
    }

    /// Publishes the data file under its key (complete and checked), then its manifest
    /// beside it. Neither is ever replaced.
    ///
    /// `between` runs after the data file has its name and before the manifest has its own
    /// (fault tests stop the process there).
    public func publish(manifest: ArchiveManifest, between: () -> Void = {}) throws {
        guard let facts else { preconditionFailure("publish before finish") }
        try object.publish(bytes: facts.bytes, sha256: facts.sha256)
        between()
        try store.createSmall(ArchiveManifest.key(for: key), bytes: try manifest.encoded())
    }
}
