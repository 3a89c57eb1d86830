/// Why an archive file could not be written, read or trusted.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The file or its manifest is damaged, incomplete or inconsistent.
        case damaged
        /// The manifest is missing.
        case missingManifest
        /// The file was written by a newer pgsweep.
        case unsupportedVersion
        /// The file's columns do not match the table's.
        case columnMismatch
        /// Writing failed (disk full, permissions...); `errno` says why when known.
        case io(errno: Int32)
    }

    public var kind: Kind
    /// The file concerned.
    public var path: String
    public var reason: String

    public init(_ kind: Kind, path: String, _ reason: String) {
        self.kind = kind
        self.path = path
        self.reason = reason
    }

    public var description: String { reason.contains(path) ? reason : "\(path): \(reason)" }
}
