import Foundation

/// STS `AssumeRoleWithWebIdentity`: the token of a Kubernetes service account (IRSA) for
/// temporary credentials of a role. The request is not signed; the token is the proof.
struct WebIdentity {
    let environment: [String: String]
    let tokenFile: String
    let roleARN: String

    func assume() throws -> AWSCredentials {
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            !token.isEmpty
        else {
            throw S3Error(.unauthorised, code: "NoWebIdentityToken", message: "cannot read a token from AWS_WEB_IDENTITY_TOKEN_FILE", resource: tokenFile)
        }
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        let origin = environment["AWS_ENDPOINT_URL_STS"] ?? environment["AWS_ENDPOINT_URL"] ?? "https://sts.\(region).amazonaws.com"
        let session = environment["AWS_ROLE_SESSION_NAME"] ?? "pgsweep-\(ProcessInfo.processInfo.processIdentifier)"
        let form = SigV4.canonicalQuery([
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleARN),
            ("RoleSessionName", session), ("WebIdentityToken", token),
        ])
        let request = HTTPRequest(
            method: "POST", origin: origin.hasSuffix("/") ? String(origin.dropLast()) : origin, path: "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded")])
        let response = try Array(form.utf8).withUnsafeBytes { try HTTPClient().send(request, body: $0) }
        let xml = response.text
        guard response.status == 200, let key = XMLText.value("AccessKeyId", in: xml),
            let secret = XMLText.value("SecretAccessKey", in: xml)
        else {
            throw S3Error(
                .unauthorised, code: XMLText.value("Code", in: xml) ?? "HTTP \(response.status)",
                message: XMLText.value("Message", in: xml) ?? "STS refused AssumeRoleWithWebIdentity", resource: "sts \(roleARN)")
        }
        let expiration = XMLText.value("Expiration", in: xml).flatMap(Self.parseTime)
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: XMLText.value("SessionToken", in: xml), expiration: expiration)
    }

    /// `2026-12-01T15:15:07Z`, with or without fractional seconds.
    static func parseTime(_ text: String) -> Date? {
        var whole = text
        if let dot = text.firstIndex(of: ".") {
            let zone = text[dot...].firstIndex { $0 == "Z" || $0 == "+" || $0 == "-" } ?? text.endIndex
            whole = String(text[..<dot]) + String(text[zone...])
        }
        return ISO8601DateFormatter().date(from: whole)
    }
}
