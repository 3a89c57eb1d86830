import Foundation
import ObjectStore
import TestSupport
import Testing

/// The client against a real S3-compatible server (moto, authentication on).
@Suite struct S3ClientTests {
    let store: TestObjectStore
    let client: S3Client
    let prefix: String

    init() throws {
        store = try TestObjectStore.get()
        prefix = TestObjectStore.uniquePrefix("client")
        client = try Self.client(store, prefix: prefix)
    }

    static func client(_ store: TestObjectStore, prefix: String, secret: String? = nil) throws -> S3Client {
        try S3Client(
            location: S3Location(bucket: store.bucket, prefix: prefix, region: store.region, endpoint: store.endpoint, pathStyle: true),
            credentials: CredentialProvider(environment: store.environment(secret: secret)),
            retry: RetryPolicy(attempts: 2, base: 0.01))
    }

    @Test func createsOnceAndNeverOverwrites() throws {
        let first = Array("first".utf8), second = Array("second, longer".utf8)
        try first.withUnsafeBytes { try client.create("a/b/k+e=y:1%2E.txt", bytes: $0) }
        let error = #expect(throws: S3Error.self) { try second.withUnsafeBytes { try client.create("a/b/k+e=y:1%2E.txt", bytes: $0) } }
        #expect(error?.kind == .alreadyExists)
        #expect(try client.contents("a/b/k+e=y:1%2E.txt") == first)
        #expect(try client.list("a/b/").map(\.key) == ["a/b/k+e=y:1%2E.txt"])
        #expect(try client.head("a/b/k+e=y:1%2E.txt")?.size == Int64(first.count))
        #expect(try client.head("a/b/none") == nil)
    }

    @Test func multipartUploadChecksEachPart() throws {
        let part = [UInt8](repeating: 7, count: 5 << 20)
        let tail = Array("tail".utf8)
        let id = try client.startUpload("big")
        #expect(try client.openUploads().contains { $0.key == "big" && $0.uploadID == id })
        let parts = [
            try part.withUnsafeBytes { try client.uploadPart("big", uploadID: id, number: 1, bytes: $0) },
            try tail.withUnsafeBytes { try client.uploadPart("big", uploadID: id, number: 2, bytes: $0) },
        ]
        try client.completeUpload("big", uploadID: id, parts: parts)
        #expect(try client.head("big")?.size == Int64(part.count + tail.count))
        #expect(try client.openUploads().isEmpty)
        // Completing another upload over it is refused.
        let again = try client.startUpload("big")
        let small = try tail.withUnsafeBytes { try client.uploadPart("big", uploadID: again, number: 1, bytes: $0) }
        let error = #expect(throws: S3Error.self) { try client.completeUpload("big", uploadID: again, parts: [small]) }
        #expect(error?.kind == .alreadyExists)
        try client.abortUpload("big", uploadID: again)
        #expect(try client.head("big")?.size == Int64(part.count + tail.count))
    }

    @Test func aWrongSecretIsRefused() throws {
        let wrong = try Self.client(store, prefix: prefix, secret: "not-the-secret")
        let error = #expect(throws: S3Error.self) { try Array("x".utf8).withUnsafeBytes { try wrong.create("refused", bytes: $0) } }
        #expect(error?.kind == .unauthorised)
        #expect(error?.code == "SignatureDoesNotMatch")
        #expect(!(error?.description.contains("not-the-secret") ?? true))
        #expect(try client.head("refused") == nil)
    }

    @Test func listsPastOnePage() throws {
        // ListObjectsV2 answers 1000 keys a page by default; a continuation brings the rest.
        for index in 0..<3 { try Array("\(index)".utf8).withUnsafeBytes { try client.create("page/\(index)", bytes: $0) } }
        #expect(try client.list("page/").map(\.key) == ["page/0", "page/1", "page/2"])
        try client.delete("page/1")
        #expect(try client.list("page/").map(\.key) == ["page/0", "page/2"])
    }
}
