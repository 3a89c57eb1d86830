import CZstd

/// Streams data into zstd frames written to a file descriptor.
///
/// Each frame carries its content checksum, so a reader detects any changed byte.
public final class ZstdCompressor {
    private let context: OpaquePointer
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private var output: [UInt8]
    private var finished = false
    /// Uncompressed bytes accepted so far.
    public private(set) var bytesIn: Int64 = 0
    /// Compressed bytes handed to the output so far.
    public private(set) var bytesOut: Int64 = 0

    /// A compressor writing to `fd` (which it does not close) at `level`.
    ///
    /// `level` is libzstd's 1...19 scale. Defaults to 3, zstd's own default.
    public convenience init(fd: Int32, level: Int32 = 3) throws {
        try self.init(level: level) { try FileIO.writeAll(fd, $0) }
    }

    /// A compressor handing its output to `sink` at `level`.
    public init(level: Int32 = 3, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let context = ZSTD_createCCtx() else {
            throw ZstdError(kind: .compression, reason: "out of memory creating a compression context")
        }
        self.context = context
        self.sink = sink
        self.output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `bytes`, writing compressed output as it becomes available.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "write after finish")
        guard !bytes.isEmpty else { return }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            _ = try compress(&input, ZSTD_e_continue)
        }
        bytesIn += Int64(bytes.count)
    }

    /// Ends the frame (writing its checksum) and flushes everything to the descriptor.
    ///
    /// The caller still owns durability: `fsync` the descriptor before relying on the data.
    public func finish() throws {
        guard !finished else { return }
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try compress(&input, ZSTD_e_end) != 0 {}
        finished = true
    }

    /// One call of ZSTD_compressStream2; returns what libzstd says remains to flush.
    private func compress(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        let remaining = try output.withUnsafeMutableBytes { buffer -> Int in
            var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let result = ZSTD_compressStream2(context, &out, &input, directive)
            try check(result)
            if out.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: buffer[0..<out.pos])) }
            bytesOut += Int64(out.pos)
            return result
        }
        return remaining
    }

    private func check(_ result: Int) throws {
        if ZSTD_isError(result) != 0 {
            throw ZstdError(kind: .compression, reason: String(cString: ZSTD_getErrorName(result)))
        }
    }
}
