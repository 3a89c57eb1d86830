/// Why compressing or decompressing failed.
public struct ZstdError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The input ended inside a frame: the file was cut short.
        case truncated
        /// The input is not valid zstd data, or its checksum does not match.
        case corrupt
        /// The frame needs a larger window than the decompressor allows.
        case windowTooLarge
        /// The input holds no data at all.
        case empty
        /// Reading or writing the file failed; `errno` says why.
        case io(errno: Int32)
        /// The compressor reported an error.
        case compression
    }

    public var kind: Kind
    /// A human-readable reason, from libzstd or the system where they gave one.
    public var reason: String
    /// The file involved, when known.
    public var path: String?

    public init(kind: Kind, reason: String, path: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.path = path
    }

    /// The same error, naming `path`.
    public func at(_ path: String) -> ZstdError {
        var copy = self
        copy.path = path
        return copy
    }

    public var description: String {
        let subject = path.map { "\($0): " } ?? ""
        switch kind {
        case .truncated: return "\(subject)zstd data is truncated (the file ends inside a frame)"
        case .corrupt: return "\(subject)zstd data is corrupt: \(reason)"
        case .windowTooLarge: return "\(subject)zstd frame needs too large a window: \(reason)"
        case .empty: return "\(subject)file is empty, expected zstd data"
        case .io: return "\(subject)\(reason)"
        case .compression: return "\(subject)zstd compression failed: \(reason)"
        }
    }
}
