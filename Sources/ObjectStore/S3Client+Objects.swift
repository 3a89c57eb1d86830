import Crypto
import Foundation

extension S3Client {
    /// What HEAD says of an object.
    public struct ObjectInfo: Sendable, Equatable {
        /// Relative to the location's prefix.
        public var key: String
        public var size: Int64
        public var etag: String?
        /// `x-amz-checksum-sha256`, when the store keeps one.
        public var sha256Checksum: String?
    }

    /// Creates `key` with `bytes`, never replacing an object already there.
    ///
    /// The request carries `If-None-Match: *`, the body's SHA-256 (signed) and MD5 and
    /// SHA-256 checksums the store verifies. When a retried attempt finds the object already
    /// there, it is taken as this upload's only if it holds these very bytes.
    /// - Throws: `S3Error` `.alreadyExists` when another object has the key.
    public func create(_ key: String, bytes: UnsafeRawBufferPointer, contentType: String = "application/octet-stream") throws {
        let sha = SHA256.hash(data: bytes)
        let md5 = Insecure.MD5.hash(data: bytes)
        var headers = [
            ("If-None-Match", "*"), ("Content-Type", contentType), ("Content-MD5", Self.base64(md5)),
            ("x-amz-checksum-sha256", Self.base64(sha)),
        ]
        if let storageClass { headers.append(("x-amz-storage-class", storageClass)) }
        do {
            try send("PUT", key: key, headers: headers, body: bytes)
        } catch let error as S3Error where error.kind == .alreadyExists && lastAttempts > 1 {
            // An earlier attempt may have landed before its answer was lost.
            guard let info = try head(key), info.size == Int64(bytes.count),
                info.sha256Checksum == Self.base64(sha) || info.etag == "\"\(SigV4.hex(md5))\""
            else { throw error }
        }
    }

    /// HEAD: the object's size and checksums; nil when there is none.
    public func head(_ key: String) throws -> ObjectInfo? {
        do {
            let response = try send("HEAD", key: key, headers: [("x-amz-checksum-mode", "ENABLED")])
            guard let size = response.headers["content-length"].flatMap({ Int64($0) }) else {
                throw S3Error(.failed, code: "NoContentLength", message: "HEAD gave no size", resource: location.url(of: key))
            }
            return ObjectInfo(key: key, size: size, etag: response.headers["etag"], sha256Checksum: response.headers["x-amz-checksum-sha256"])
        } catch let error as S3Error where error.kind == .notFound {
            return nil
        }
    }

    /// Streams the object's bytes to `consume`.
    public func get(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        // The transfer holding the closure ends with the request.
        try withoutActuallyEscaping(consume) { consume in _ = try send("GET", key: key, receive: consume) }
    }

    /// The whole of a small object (a manifest); nil when there is none.
    public func contents(_ key: String) throws -> [UInt8]? {
        do {
            return try send("GET", key: key).body
        } catch let error as S3Error where error.kind == .notFound {
            return nil
        }
    }

    /// Removes the object (no error when it is already gone).
    public func delete(_ key: String) throws {
        do { try send("DELETE", key: key) } catch let error as S3Error where error.kind == .notFound {}
    }

    /// Every object under `prefix` (relative to the location's), sorted by key.
    public func list(_ prefix: String = "") throws -> [ObjectInfo] {
        var found: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", fullKey(prefix))]
            if let token { query.append(("continuation-token", token)) }
            let xml = try send("GET", key: nil, query: query).text
            for block in XMLText.blocks("Contents", in: xml) {
                guard let key = XMLText.value("Key", in: block), key.hasPrefix(location.prefix) else { continue }
                found.append(ObjectInfo(
                    key: String(key.dropFirst(location.prefix.count)), size: Int64(XMLText.value("Size", in: block) ?? "") ?? 0,
                    etag: XMLText.value("ETag", in: block), sha256Checksum: nil))
            }
            token = XMLText.value("IsTruncated", in: xml) == "true" ? XMLText.value("NextContinuationToken", in: xml) : nil
        } while token != nil
        return found.sorted { $0.key < $1.key }
    }

    /// Checks that the bucket exists and these credentials may list it.
    public func checkBucket() throws {
        try send("GET", key: nil, query: [("list-type", "2"), ("max-keys", "1"), ("prefix", location.prefix)])
    }
}
