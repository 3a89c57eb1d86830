import ArchiveFormat
import Foundation
import Logging
import ObjectStore

extension PGSweepConfig.ArchiveStorage {
    /// Where archives go, `s3://bucket/prefix/` or the folder.
    public var locationDescription: String {
        s3.map { "s3://\($0.bucket)/\($0.prefix)" } ?? directory
    }

    /// The configured destination: the S3 store when `archive.s3` is set, else the folder.
    /// Retried requests to a store are logged to `logger` as warnings.
    ///
    /// - Throws: `S3Error` when the store's client cannot start.
    public func makeStore(
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger? = nil
    ) throws -> any ArchiveStore {
        guard let s3 else { return LocalArchiveStore(root: directory) }
        return try s3.makeStore(bucket: s3.bucket, prefix: s3.prefix, environment: environment, logger: logger)
    }

    /// The store holding `url` (`s3://bucket/prefix...`), reached with the configured S3
    /// settings (endpoint, region, path style, CA) when there are any, else AWS's defaults;
    /// and the key `url` names within it.
    public func store(
        for url: String, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger? = nil
    ) throws -> (store: S3ArchiveStore, key: String)? {
        guard let (bucket, key) = S3Location.parse(url) else { return nil }
        let settings = s3 ?? S3Settings(bucket: bucket)
        return (try settings.makeStore(bucket: bucket, prefix: "", environment: environment, logger: logger), key)
    }
}

extension S3Settings {
    /// A store on these settings for `bucket` and `prefix`.
    func makeStore(bucket: String, prefix: String, environment: [String: String], logger: Logger?) throws -> S3ArchiveStore {
        let credentials = CredentialProvider(environment: environment)
        let location = S3Location(
            bucket: bucket, prefix: prefix, region: region ?? credentials.region() ?? "us-east-1",
            endpoint: endpoint ?? credentials.endpoint(), pathStyle: pathStyle)
        let client = try S3Client(
            location: location, credentials: credentials, caFile: caFile, stallTimeout: max(1, Int(timeout.seconds.rounded(.up))),
            retry: RetryPolicy(attempts: retries + 1), storageClass: storageClass)
        if let logger {
            client.onRetry = { error, attempt, delay in
                logger.warning(
                    "object store request failed; trying again",
                    metadata: [LogKey.objectStoreCode: .string(error.code), LogKey.objectStoreResource: .string(error.resource),
                               LogKey.error: .string(error.message), LogKey.attempt: .stringConvertible(attempt),
                               LogKey.retryIn: .stringConvertible((delay * 1000).rounded() / 1000)])
            }
        }
        return S3ArchiveStore(client: client, partSize: Int(partSize))
    }
}
