/// `archive.s3`: archives in an S3-compatible object store instead of a folder.
public struct S3Settings: Sendable, Equatable {
    /// `bucket` (string, required).
    public var bucket: String
    /// `prefix` (string, default: none): keys start with it; a `/` is added when missing.
    public var prefix: String = ""
    /// `region` (string, default: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's, else us-east-1).
    public var region: String?
    /// `endpoint` (URL, default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's
    /// `endpoint_url`, else AWS's endpoint for the region): an S3-compatible store's address.
    public var endpoint: String?
    /// `path_style` (bool, default: false): the bucket in the path, not the host name (MinIO, Ceph).
    public var pathStyle = false
    /// `storage_class` (string, default: the bucket's): e.g. `STANDARD_IA`, `GLACIER_IR`.
    public var storageClass: String?
    /// `ca_file` (path, default: the system's): certificate authorities of a private store,
    /// relative to the configuration file's folder. Certificates are always verified.
    public var caFile: String?
    /// `part_size` (size, 5MB or more, default: 8MB): objects larger than this go up in parts
    /// of this size, one part in memory at a time.
    public var partSize: Int64 = 8 << 20
    /// `timeout` (duration, default: 30s): a request that moves no byte for this long fails
    /// (and is retried).
    public var timeout: ConfigDuration = .seconds(30)
    /// `retries` (int, default: 4): further attempts of a request after a connection error,
    /// a 5xx, 408 or 429 answer, with exponential back-off and jitter.
    public var retries = 4

    public init(bucket: String) { self.bucket = bucket }

    static let keys = ["bucket", "prefix", "region", "endpoint", "path_style", "storage_class", "ca_file", "part_size", "timeout", "retries"]
}
