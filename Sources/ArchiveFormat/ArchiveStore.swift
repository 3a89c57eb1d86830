import Foundation

/// Where archive files live: a local folder (`LocalArchiveStore`) or a bucket prefix of an
/// S3-compatible store (`S3ArchiveStore`). Keys are paths relative to that place, laid out
/// by `ArchivePaths`; a manifest's key is its data file's plus `.manifest.json`.
///
/// Stores are used from one thread at a time.
public protocol ArchiveStore: AnyObject {
    /// The folder, or `s3://bucket/prefix/`.
    var location: String { get }
    /// The full name of `key`, for messages: a path or an `s3://` URL.
    func describe(_ key: String) -> String
    /// Starts the data object `key`; nothing is visible under `key` until its writer publishes.
    func create(_ key: String) throws -> any ArchiveObjectWriter
    /// Creates the small object `key` (a manifest) durably, never replacing one.
    func createSmall(_ key: String, bytes: Data) throws
    /// Keys of the data files (`*.csv.zst`) under `prefix`, sorted.
    func dataKeys(under prefix: String) throws -> [String]
    /// Writes that were started and never published: temporary files, open uploads.
    func incompleteWrites(under prefix: String) throws -> [IncompleteWrite]
    /// Streams the bytes of `key`, as stored.
    /// - Throws: `ArchiveError` `.damaged` when there is no such object.
    func read(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws
    /// The whole of a small object; nil when there is none.
    func contents(_ key: String) throws -> Data?
    /// Removes objects (and the folders' entries, durably); ones already gone are no error.
    func remove(_ keys: [String]) throws
    /// Abandons writes found by `incompleteWrites`.
    func abandon(_ writes: [IncompleteWrite]) throws
}

/// A write that never finished: a temporary file, or an open multipart upload.
public struct IncompleteWrite: Sendable, Equatable {
    /// The key (or temporary file) it concerns, relative to the store.
    public var key: String
    /// What it is, for a report: "temporary file of an interrupted write", "open upload ...".
    public var detail: String
    /// The upload's id; nil for a temporary file.
    public var uploadID: String?

    public init(key: String, detail: String, uploadID: String? = nil) {
        self.key = key
        self.detail = detail
        self.uploadID = uploadID
    }
}

/// One data object being written: bytes in, then `finish` (all bytes stored, nothing visible
/// yet), then `publish` (visible under its key, complete and checked). Dropped unpublished,
/// it removes what it wrote.
public protocol ArchiveObjectWriter: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Stores every byte written durably, still under no visible name.
    func finish() throws
    /// Gives the object its key, never replacing another, and checks that what is stored
    /// there has `bytes` bytes (and, where the store reports one, the SHA-256 `sha256`).
    func publish(bytes: Int64, sha256: String) throws
}

extension ArchiveStore {
    /// Reads the manifest of the data file `key`, refusing formats it does not know.
    public func manifest(of key: String) throws -> ArchiveManifest {
        let manifestKey = ArchiveManifest.key(for: key)
        guard let data = try contents(manifestKey) else {
            throw ArchiveError(.missingManifest, path: describe(key), "manifest \(describe(manifestKey)) is missing")
        }
        return try ArchiveManifest.decode(data, name: describe(manifestKey), dataPath: describe(key))
    }
}
