import Foundation
import ObjectStore

/// Archive objects in an S3-compatible bucket, under the location's prefix: created with
/// `If-None-Match: *` (never replacing an object), every byte's checksum sent for the store
/// to verify, and each data object's size and checksum confirmed by HEAD once complete.
///
/// Objects up to `partSize` go up in one PUT; larger ones as a multipart upload of
/// `partSize` parts, one part in memory at a time.
public final class S3ArchiveStore: ArchiveStore {
    public let client: S3Client
    public let partSize: Int

    /// S3 accepts parts of 5 MiB and more (the last one aside), and at most 10,000 of them.
    public static let minimumPartSize = 5 << 20
    /// One part in memory at a time; 8 MiB parts allow objects of 78 GiB. Defaults to 8 MiB.
    public static let defaultPartSize = 8 << 20

    public init(client: S3Client, partSize: Int = S3ArchiveStore.defaultPartSize) {
        self.client = client
        self.partSize = max(partSize, Self.minimumPartSize)
    }

    public var location: String { client.location.description }

    public func describe(_ key: String) -> String { client.location.url(of: key) }

    public func create(_ key: String) throws -> any ArchiveObjectWriter { S3ObjectWriter(client: client, key: key, partSize: partSize) }

    public func createSmall(_ key: String, bytes: Data) throws {
        try bytes.withUnsafeBytes { try client.create(key, bytes: $0, contentType: "application/json") }
    }

    public func dataKeys(under prefix: String) throws -> [String] {
        try client.list(prefix).map(\.key).filter { $0.hasSuffix(".csv.zst") }
    }

    public func incompleteWrites(under prefix: String) throws -> [IncompleteWrite] {
        try client.openUploads(prefix).map {
            IncompleteWrite(key: $0.key, detail: "open multipart upload \($0.uploadID) of an interrupted write", uploadID: $0.uploadID)
        }
    }

    public func read(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        do {
            try client.get(key, consume)
        } catch let error as S3Error where error.kind == .notFound {
            throw ArchiveError(.damaged, path: describe(key), "the data file is missing")
        }
    }

    public func contents(_ key: String) throws -> Data? { try client.contents(key).map { Data($0) } }

    public func remove(_ keys: [String]) throws {
        for key in keys { try client.delete(key) }
    }

    public func abandon(_ writes: [IncompleteWrite]) throws {
        for write in writes {
            if let id = write.uploadID { try client.abortUpload(write.key, uploadID: id) } else { try client.delete(write.key) }
        }
    }
}
