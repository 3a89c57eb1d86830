import Foundation
import Testing

@testable import ObjectStore

/// AWS's published S3 examples ("Signature Calculations for the Authorization Header:
/// Transferring Payload in a Single Chunk"): the same credentials, time and requests must
/// give the same signatures.
@Suite struct SigV4Tests {
    let credentials = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    let signer = SigV4(region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    let host = ("host", "examplebucket.s3.amazonaws.com")

    func signature(_ headers: [(String, String)]) -> String {
        let authorization = headers.first { $0.0 == "authorization" }!.1
        return String(authorization[authorization.range(of: "Signature=")!.upperBound...])
    }

    @Test func getObjectWithRange() {
        let signed = signer.sign(
            method: "GET", path: "/test.txt", query: [], headers: [host, ("Range", "bytes=0-9")],
            payloadHash: SigV4.emptyPayloadHash, credentials: credentials, date: date)
        #expect(signature(signed) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(signed.first { $0.0 == "authorization" }!.1.contains(
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"))
    }

    @Test func putObjectWithEncodedKey() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = body.withUnsafeBytes(SigV4.sha256Hex)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let path = "/" + SigV4.encode("test$file.text", keepSlash: true)
        #expect(path == "/test%24file.text")
        let signed = signer.sign(
            method: "PUT", path: path, query: [],
            headers: [host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            payloadHash: hash, credentials: credentials, date: date)
        #expect(signature(signed) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func queryParameterWithoutValue() {
        let signed = signer.sign(
            method: "GET", path: "/", query: [("lifecycle", "")], headers: [host], payloadHash: SigV4.emptyPayloadHash,
            credentials: credentials, date: date)
        #expect(signature(signed) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func queryIsSortedByName() {
        let signed = signer.sign(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [host],
            payloadHash: SigV4.emptyPayloadHash, credentials: credentials, date: date)
        #expect(signature(signed) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func encodingKeepsOnlyUnreservedCharacters() {
        #expect(SigV4.encode("a/b c+d=e:f,g~h") == "a%2Fb%20c%2Bd%3De%3Af%2Cg~h")
        #expect(SigV4.encode("a/b%c", keepSlash: true) == "a/b%25c")
        #expect(SigV4.canonicalQuery([("uploads", "")]) == "uploads=")
    }

    @Test func temporaryCredentialsSendTheirToken() {
        var temporary = credentials
        temporary.sessionToken = "token/with+chars"
        let signed = signer.sign(
            method: "GET", path: "/", query: [], headers: [host], payloadHash: SigV4.emptyPayloadHash, credentials: temporary, date: date)
        #expect(signed.contains { $0 == ("x-amz-security-token", "token/with+chars") })
        #expect(signed.first { $0.0 == "authorization" }!.1.contains("x-amz-security-token"))
        #expect(!temporary.description.contains(temporary.secretAccessKey))
    }
}
