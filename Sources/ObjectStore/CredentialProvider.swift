import Foundation

/// Finds credentials the way AWS tools do, first match wins:
/// 1. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`);
/// 2. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` (an EKS service account),
///    exchanged with STS `AssumeRoleWithWebIdentity` and exchanged again before they expire;
/// 3. the profile `AWS_PROFILE` (default `default`) in the shared credentials and config files.
///
/// Thread-safe: the cached temporary credentials sit behind a lock.
public final class CredentialProvider: @unchecked Sendable {
    private let environment: [String: String]
    private let lock = NSLock()
    private var cached: AWSCredentials?
    /// Temporary credentials are renewed when less than this remains. Defaults to five minutes.
    public let refreshMargin: TimeInterval

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, refreshMargin: TimeInterval = 300) {
        self.environment = environment
        self.refreshMargin = refreshMargin
    }

    /// Where credentials come from, for `doctor` (never the secret).
    public var sourceDescription: String {
        if environment["AWS_ACCESS_KEY_ID"] != nil { return "environment (AWS_ACCESS_KEY_ID)" }
        if environment["AWS_WEB_IDENTITY_TOKEN_FILE"] != nil { return "web identity (AWS_ROLE_ARN \(environment["AWS_ROLE_ARN"] ?? "unset"))" }
        return "profile \(environment["AWS_PROFILE"] ?? "default") in the shared credentials files"
    }

    /// Credentials good for at least `refreshMargin` more.
    ///
    /// - Throws: `S3Error` `.unauthorised` when none are configured or STS refuses.
    public func current() throws -> AWSCredentials {
        lock.lock()
        defer { lock.unlock() }
        if let cached, cached.expiration.map({ $0.timeIntervalSinceNow > refreshMargin }) ?? true { return cached }
        let fresh = try resolve()
        cached = fresh
        return fresh
    }

    private func resolve() throws -> AWSCredentials {
        if let key = nonEmpty("AWS_ACCESS_KEY_ID") {
            guard let secret = nonEmpty("AWS_SECRET_ACCESS_KEY") else {
                throw S3Error(.unauthorised, code: "NoCredentials", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", resource: "credentials")
            }
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty("AWS_SESSION_TOKEN"))
        }
        if let tokenFile = nonEmpty("AWS_WEB_IDENTITY_TOKEN_FILE"), let role = nonEmpty("AWS_ROLE_ARN") {
            return try WebIdentity(environment: environment, tokenFile: tokenFile, roleARN: role).assume()
        }
        let profileName = nonEmpty("AWS_PROFILE") ?? "default"
        let profile = AWSProfileFiles(profile: profileName, environment: environment)
        if let key = profile["aws_access_key_id"], let secret = profile["aws_secret_access_key"] {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: profile["aws_session_token"])
        }
        throw S3Error(
            .unauthorised, code: "NoCredentials",
            message: "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or a profile (AWS_PROFILE, now \(profileName)) with aws_access_key_id in the shared credentials file",
            resource: "credentials")
    }

    private func nonEmpty(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }

    /// The region AWS tools would use: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's.
    public func region() -> String? {
        nonEmpty("AWS_REGION") ?? nonEmpty("AWS_DEFAULT_REGION")
            ?? AWSProfileFiles(profile: nonEmpty("AWS_PROFILE") ?? "default", environment: environment)["region"]
    }

    /// The endpoint AWS tools would use for S3: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`,
    /// then the profile's `endpoint_url`.
    public func endpoint() -> String? {
        nonEmpty("AWS_ENDPOINT_URL_S3") ?? nonEmpty("AWS_ENDPOINT_URL")
            ?? AWSProfileFiles(profile: nonEmpty("AWS_PROFILE") ?? "default", environment: environment)["endpoint_url"]
    }
}
