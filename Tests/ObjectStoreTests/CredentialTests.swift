import Foundation
import ObjectStore
import TestSupport
import Testing

/// Where credentials come from, as AWS tools find them; each source used against the test
/// store, which checks signatures.
@Suite struct CredentialTests {
    let store: TestObjectStore

    init() throws { store = try TestObjectStore.get() }

    func client(_ credentials: CredentialProvider) throws -> S3Client {
        try S3Client(
            location: S3Location(bucket: store.bucket, prefix: TestObjectStore.uniquePrefix("credentials"), region: store.region,
                                 endpoint: store.endpoint, pathStyle: true),
            credentials: credentials, retry: RetryPolicy(attempts: 1))
    }

    @Test func profileInTheSharedFiles() throws {
        let scratch = try ScratchFolder()
        try """
            [default]
            aws_access_key_id = AKIAWRONGDEFAULT
            aws_secret_access_key = wrong

            [archive]
            aws_access_key_id = \(store.accessKeyID)
            aws_secret_access_key = \(store.secretAccessKey)
            """.write(toFile: scratch.file("credentials"), atomically: true, encoding: .utf8)
        try "[profile archive]\nregion = eu-west-3\nendpoint_url = http://example.invalid:9000\n"
            .write(toFile: scratch.file("config"), atomically: true, encoding: .utf8)
        let provider = CredentialProvider(environment: [
            "AWS_PROFILE": "archive", "AWS_SHARED_CREDENTIALS_FILE": scratch.file("credentials"), "AWS_CONFIG_FILE": scratch.file("config"),
        ])
        #expect(try provider.current().accessKeyID == store.accessKeyID)
        #expect(provider.region() == "eu-west-3")
        #expect(provider.endpoint() == "http://example.invalid:9000")
        try client(provider).checkBucket()
        // The environment's keys come first.
        let environment = CredentialProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIAFROMENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "archive",
            "AWS_SHARED_CREDENTIALS_FILE": scratch.file("credentials"), "AWS_REGION": "ap-south-1",
        ])
        #expect(try environment.current().accessKeyID == "AKIAFROMENV")
        #expect(environment.region() == "ap-south-1")
    }

    @Test func noCredentialsIsAClearError() throws {
        let scratch = try ScratchFolder()
        let provider = CredentialProvider(environment: [
            "AWS_SHARED_CREDENTIALS_FILE": scratch.file("none"), "AWS_CONFIG_FILE": scratch.file("none"), "HOME": scratch.path,
        ])
        let error = #expect(throws: S3Error.self) { try provider.current() }
        #expect(error?.kind == .unauthorised)
        #expect(error?.message.contains("no credentials: set AWS_ACCESS_KEY_ID") == true)
    }

    @Test func webIdentityIsExchangedAndRenewedBeforeItExpires() throws {
        let scratch = try ScratchFolder()
        let role = "pgsweep-web-\(UInt32.random(in: 0...UInt32.max))"
        let python = try ProcessRunner.run("/bin/bash", [RepositoryPaths.file("ops/s3local"), "install"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var environment = ProcessInfo.processInfo.environment.merging(store.environment()) { $1 }
        environment["AWS_DEFAULT_REGION"] = store.region
        for arguments in [
            ["iam", "create-role", "--role-name", role, "--assume-role-policy-document",
             #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"oidc"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#],
            ["iam", "put-role-policy", "--role-name", role, "--policy-name", "s3", "--policy-document",
             #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#],
        ] {
            let output = try ProcessRunner.run(python, ["-m", "awscli", "--endpoint-url", store.endpoint] + arguments, environment: environment)
            #expect(output.status == 0, "\(output.all)")
        }
        try "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGdzd2VlcCJ9.c2ln"
            .write(toFile: scratch.file("token"), atomically: true, encoding: .utf8)
        let web = [
            "AWS_WEB_IDENTITY_TOKEN_FILE": scratch.file("token"), "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/\(role)",
            "AWS_ENDPOINT_URL_STS": store.endpoint, "AWS_REGION": store.region, "HOME": scratch.path,
        ]
        let provider = CredentialProvider(environment: web)
        let first = try provider.current()
        #expect(first.sessionToken != nil)
        #expect(first.expiration.map { $0.timeIntervalSinceNow > 600 } == true)
        #expect(try provider.current() == first)  // cached while far from expiry
        try client(provider).checkBucket()
        // Within the margin of expiry (here: always), the next use exchanges the token again.
        let eager = CredentialProvider(environment: web, refreshMargin: 24 * 3600)
        let a = try eager.current(), b = try eager.current()
        #expect(a.accessKeyID != b.accessKeyID)
        try client(eager).checkBucket()
    }
}
