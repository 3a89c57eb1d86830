import Foundation
import ObjectStore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Certificates are always verified: a store whose certificate comes from a private
/// authority is refused until `ca_file` names that authority. The server is `openssl
/// s_server -www`, which answers any GET with a status page.
@Suite struct TLSTests {
    /// A private authority and a certificate it signed for 127.0.0.1, in `scratch`.
    static func makeCertificates(_ scratch: ScratchFolder) throws {
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", scratch.file("ca.key"), "-out", scratch.file("ca.pem"),
             "-days", "2", "-subj", "/CN=pgsweep test authority"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", scratch.file("server.key"), "-out", scratch.file("server.csr"),
             "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", scratch.file("server.csr"), "-CA", scratch.file("ca.pem"), "-CAkey", scratch.file("ca.key"),
             "-CAcreateserial", "-out", scratch.file("server.pem"), "-days", "2", "-extfile", scratch.file("san.cnf")],
        ]
        try "subjectAltName = IP:127.0.0.1\n".write(toFile: scratch.file("san.cnf"), atomically: true, encoding: .utf8)
        for step in steps {
            let output = try ProcessRunner.run("/usr/bin/openssl", step)
            #expect(output.status == 0, "\(output.all)")
        }
    }

    @Test func aPrivateAuthorityIsTrustedOnlyWhenNamed() throws {
        let scratch = try ScratchFolder()
        try Self.makeCertificates(scratch)
        let port = try freeLocalPort()
        let server = try ProcessRunner.start("/usr/bin/openssl", [
            "s_server", "-quiet", "-www", "-accept", "127.0.0.1:\(port)", "-cert", scratch.file("server.pem"), "-key", scratch.file("server.key"),
        ])
        defer {
            server.signal(SIGKILL)
            _ = try? server.wait()
        }
        let request = HTTPRequest(method: "GET", origin: "https://127.0.0.1:\(port)", path: "/")
        let trusted = try HTTPClient(caFile: scratch.file("ca.pem"))
        var answer: HTTPResponse?
        #expect(eventually { answer = try? trusted.send(request); return answer != nil })
        #expect(answer?.status == 200)
        let error = #expect(throws: HTTPError.self) { try HTTPClient().send(request) }
        #expect(error?.retryable == false)
        #expect(error?.message.lowercased().contains("certificate") == true, "\(error?.message ?? "")")
    }
}
