import Crypto
import Foundation
import ObjectStore

/// One data object on its way to the store: bytes gather in a part buffer; a full buffer
/// starts (or continues) a multipart upload. `publish` sends a small object in one PUT or
/// completes the upload, both with `If-None-Match: *`, then confirms size and checksum with
/// HEAD. Dropped unpublished, it aborts its upload.
final class S3ObjectWriter: ArchiveObjectWriter {
    let client: S3Client
    let key: String
    let partSize: Int
    private var buffer: [UInt8] = []
    private var uploadID: String?
    private var parts: [S3Client.Part] = []
    private var finished = false
    private var published = false

    init(client: S3Client, key: String, partSize: Int) {
        self.client = client
        self.key = key
        self.partSize = partSize
        buffer.reserveCapacity(partSize)
    }

    deinit {
        if !published, let uploadID { try? client.abortUpload(key, uploadID: uploadID) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(partSize - buffer.count, rest.count)
            buffer.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if buffer.count == partSize && !rest.isEmpty { try sendPart() }
        }
    }

    private func sendPart() throws {
        let id = try uploadID ?? client.startUpload(key)
        uploadID = id
        parts.append(try buffer.withUnsafeBytes { try client.uploadPart(key, uploadID: id, number: parts.count + 1, bytes: $0) })
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        finished = true
        // A multipart object's last part goes up now; a small object waits for its one PUT.
        if uploadID != nil && !buffer.isEmpty { try sendPart() }
    }

    func publish(bytes: Int64, sha256: String) throws {
        precondition(finished, "publish before finish")
        let expected: String
        if let uploadID {
            try client.completeUpload(key, uploadID: uploadID, parts: parts)
            published = true
            expected = S3Client.compositeChecksum(parts)
        } else {
            try buffer.withUnsafeBytes { try client.create(key, bytes: $0) }
            published = true
            expected = Data(hexadecimal: sha256).base64EncodedString()
        }
        guard let info = try client.head(key) else {
            throw ArchiveError(.damaged, path: client.location.url(of: key), "the object is not there after its upload")
        }
        guard info.size == bytes else {
            throw ArchiveError(.damaged, path: client.location.url(of: key), "the store holds \(info.size) bytes, \(bytes) were sent")
        }
        // Some stores give a multipart object's checksum without the `-N` part count.
        if let checksum = info.sha256Checksum, checksum != expected, checksum != expected.prefix(while: { $0 != "-" }) {
            throw ArchiveError(.damaged, path: client.location.url(of: key), "the store's SHA-256 \(checksum) is not that of the bytes sent (\(expected))")
        }
    }
}
