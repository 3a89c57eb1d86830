import CZstd

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams zstd data from a file descriptor and hands the decompressed bytes on in chunks.
///
/// Memory stays bounded whatever the input: frames that ask for a window larger than
/// `maxWindowLog` are refused instead of allocated.
public final class ZstdDecompressor {
    private let context: OpaquePointer
    /// Uncompressed bytes produced by the last `decompress` call.
    public private(set) var bytesOut: Int64 = 0
    /// Compressed bytes read by the last `decompress` call.
    public private(set) var bytesIn: Int64 = 0

    /// A decompressor accepting windows of at most `2^maxWindowLog` bytes.
    ///
    /// Defaults to 24 (16 MiB), which covers every level up to 19; zstd itself would accept
    /// 128 MiB.
    public init(maxWindowLog: Int32 = 24) throws {
        guard let context = ZSTD_createDCtx() else {
            throw ZstdError(kind: .corrupt, reason: "out of memory creating a decompression context")
        }
        self.context = context
        let status = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, maxWindowLog)
        if ZSTD_isError(status) != 0 {
            ZSTD_freeDCtx(context)
            throw ZstdError(kind: .corrupt, reason: String(cString: ZSTD_getErrorName(status)))
        }
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses everything readable from `fd`, calling `consume` with each chunk.
    ///
    /// - Throws: `ZstdError` `.truncated` when the data ends inside a frame, `.corrupt`
    ///   for invalid data or a checksum mismatch, `.empty` for no data, or what `consume`
    ///   throws.
    public func decompress(from fd: Int32, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        begin()
        var input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
        while true {
            let count = try input.withUnsafeMutableBytes { try FileIO.readSome(fd, into: $0) }
            if count == 0 { break }
            try input.withUnsafeBytes { try feed(UnsafeRawBufferPointer(rebasing: $0[0..<count]), consume) }
        }
        try end()
    }

    private var output: [UInt8] = []
    private var lastHint = 0

    /// Starts a new stream fed by `feed` (for data that arrives in pieces, from a network say).
    public func begin() {
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        bytesIn = 0
        bytesOut = 0
        lastHint = 0
        if output.isEmpty { output = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize()) }
    }

    /// Decompresses the next piece of the stream, calling `consume` with each chunk.
    public func feed(_ input: UnsafeRawBufferPointer, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0 else { return }
        bytesIn += Int64(input.count)
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        // Loop until the input is used up and no output is pending.
        while true {
            let (hint, produced) = try output.withUnsafeMutableBytes { outBytes -> (Int, Int) in
                var outBuffer = ZSTD_outBuffer(dst: outBytes.baseAddress, size: outBytes.count, pos: 0)
                let hint = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                try check(hint)
                if outBuffer.pos > 0 {
                    try consume(UnsafeRawBufferPointer(rebasing: outBytes[0..<outBuffer.pos]))
                }
                return (hint, outBuffer.pos)
            }
            bytesOut += Int64(produced)
            lastHint = hint
            if inBuffer.pos == inBuffer.size && produced < output.count { break }
        }
    }

    /// Ends the stream fed by `feed`.
    ///
    /// - Throws: `ZstdError` `.empty` when nothing was fed, `.truncated` when the data
    ///   ended inside a frame.
    public func end() throws {
        if bytesIn == 0 { throw ZstdError(kind: .empty, reason: "no data") }
        if lastHint != 0 { throw ZstdError(kind: .truncated, reason: "input ended inside a frame") }
    }

    /// Decompresses the file at `path`; errors name the file.
    public func decompress(path: String, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIO.ioError("open", errno).at(path) }
        defer { close(fd) }
        do {
            try decompress(from: fd, consume)
        } catch let error as ZstdError {
            throw error.path == nil ? error.at(path) : error
        }
    }

    private func check(_ result: Int) throws {
        guard ZSTD_isError(result) != 0 else { return }
        let reason = String(cString: ZSTD_getErrorName(result))
        switch ZSTD_getErrorCode(result) {
        case ZSTD_error_frameParameter_windowTooLarge:
            throw ZstdError(kind: .windowTooLarge, reason: reason)
        default:
            throw ZstdError(kind: .corrupt, reason: reason)
        }
    }
}
