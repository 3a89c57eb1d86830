import Crypto
import Foundation

extension S3Client {
    /// A part uploaded, as CompleteMultipartUpload names it.
    public struct Part: Sendable {
        public var number: Int
        public var etag: String
        /// The part's SHA-256, raw.
        public var sha256: [UInt8]
    }

    /// An upload left open (by a killed run, say).
    public struct OpenUpload: Sendable, Equatable {
        /// Relative to the location's prefix.
        public var key: String
        public var uploadID: String
    }

    /// Starts a multipart upload of `key` with SHA-256 part checksums; returns its id.
    public func startUpload(_ key: String) throws -> String {
        var headers = [("x-amz-checksum-algorithm", "SHA256")]
        if let storageClass { headers.append(("x-amz-storage-class", storageClass)) }
        let xml = try send("POST", key: key, query: [("uploads", "")], headers: headers).text
        guard let id = XMLText.value("UploadId", in: xml) else {
            throw S3Error(.failed, code: "NoUploadId", message: "CreateMultipartUpload gave no upload id", resource: location.url(of: key))
        }
        return id
    }

    /// Uploads part `number` (from 1) with its MD5 and SHA-256 for the store to check.
    public func uploadPart(_ key: String, uploadID: String, number: Int, bytes: UnsafeRawBufferPointer) throws -> Part {
        let sha = Array(SHA256.hash(data: bytes))
        let headers = [("Content-MD5", Self.base64(Insecure.MD5.hash(data: bytes))), ("x-amz-checksum-sha256", Self.base64(sha))]
        let response = try send(
            "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], headers: headers, body: bytes)
        guard let etag = response.headers["etag"] else {
            throw S3Error(.failed, code: "NoETag", message: "UploadPart \(number) gave no ETag", resource: location.url(of: key))
        }
        return Part(number: number, etag: etag, sha256: sha)
    }

    /// Completes the upload with `If-None-Match: *`, so it never replaces an object. A 200
    /// answer carrying an error is a failure.
    public func completeUpload(_ key: String, uploadID: String, parts: [Part]) throws {
        let xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            + parts.map {
                "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(XMLText.escape($0.etag))</ETag><ChecksumSHA256>\(Self.base64($0.sha256))</ChecksumSHA256></Part>"
            }.joined() + "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        do {
            _ = try body.withUnsafeBytes { bytes in
                try send(
                    "POST", key: key, query: [("uploadId", uploadID)],
                    headers: [("If-None-Match", "*"), ("Content-Type", "application/xml")], body: bytes, errorInBody: true)
            }
        } catch let error as S3Error where [.alreadyExists, .notFound].contains(error.kind) && lastAttempts > 1 {
            // An earlier attempt may have completed before its answer was lost: then the
            // object there is made of these very parts.
            guard let info = try head(key), info.sha256Checksum == Self.compositeChecksum(parts) || info.etag == Self.compositeETag(parts)
            else { throw error }
        }
    }

    /// The ETag S3 gives an object made of `parts`: MD5 of the parts' MD5s, `-N`, quoted.
    static func compositeETag(_ parts: [Part]) -> String {
        let digests = parts.flatMap { part in
            Array(Data(hexadecimal: part.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))))
        }
        return "\"\(SigV4.hex(Insecure.MD5.hash(data: digests)))-\(parts.count)\""
    }

    /// Abandons the upload and its parts (no error when it is already gone).
    public func abortUpload(_ key: String, uploadID: String) throws {
        do {
            try send("DELETE", key: key, query: [("uploadId", uploadID)])
        } catch let error as S3Error where error.kind == .notFound {}
    }

    /// Open multipart uploads under `prefix` (relative to the location's).
    public func openUploads(_ prefix: String = "") throws -> [OpenUpload] {
        var found: [OpenUpload] = []
        var marker: (key: String, id: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", fullKey(prefix))]
            if let marker { query += [("key-marker", marker.key), ("upload-id-marker", marker.id)] }
            let xml = try send("GET", key: nil, query: query).text
            for block in XMLText.blocks("Upload", in: xml) {
                guard let key = XMLText.value("Key", in: block), let id = XMLText.value("UploadId", in: block),
                    key.hasPrefix(location.prefix)
                else { continue }
                found.append(OpenUpload(key: String(key.dropFirst(location.prefix.count)), uploadID: id))
            }
            marker = XMLText.value("IsTruncated", in: xml) == "true"
                ? XMLText.value("NextKeyMarker", in: xml).map { ($0, XMLText.value("NextUploadIdMarker", in: xml) ?? "") } : nil
        } while marker != nil
        return found
    }

    /// The checksum S3 reports for an object made of `parts`: SHA-256 of the parts' digests, `-N`.
    public static func compositeChecksum(_ parts: [Part]) -> String {
        base64(SHA256.hash(data: parts.flatMap(\.sha256))) + "-\(parts.count)"
    }
}
