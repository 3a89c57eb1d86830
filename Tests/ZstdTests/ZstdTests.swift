import Foundation
import Testing
import TestSupport
import Zstd

@Suite("Zstd streams")
struct ZstdTests {
    static func sampleData(count: Int) -> [UInt8] {
        // Half compressible text, half pseudo-random bytes, so blocks of both kinds appear.
        let line = Array("row,\"value, with comma\"\n".utf8)
        let text = (0..<count / 2).map { line[$0 % line.count] }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<count - count / 2).map { _ -> UInt8 in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        return text + noise
    }

    static func compress(_ data: [UInt8], to path: String, level: Int32 = 3) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #expect(fd >= 0)
        defer { close(fd) }
        let compressor = try ZstdCompressor(fd: fd, level: level)
        // Feed in uneven pieces.
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + 10_007)
            try data[offset..<end].withUnsafeBytes { try compressor.write($0) }
            offset = end
        }
        try compressor.finish()
        #expect(compressor.bytesIn == Int64(data.count))
    }

    static func decompress(_ path: String) throws -> [UInt8] {
        var output: [UInt8] = []
        try ZstdDecompressor().decompress(path: path) { output.append(contentsOf: $0) }
        return output
    }

    @Test("data round-trips through the compressor and decompressor")
    func roundTrip() throws {
        let scratch = try ScratchFolder()
        let data = Self.sampleData(count: 3_000_000)
        try Self.compress(data, to: scratch.file("a.zst"))
        #expect(try Self.decompress(scratch.file("a.zst")) == data)
    }

    @Test("the zstd command line reads our files and verifies their checksum")
    func zstdCLIReadsOurFiles() throws {
        let scratch = try ScratchFolder()
        let data = Array("id,name\n1,\"a, b\"\n".utf8)
        try Self.compress(data, to: scratch.file("a.csv.zst"))
        let output = try ProcessRunner.run("/usr/bin/zstd", ["-lv", scratch.file("a.csv.zst")])
        #expect(output.status == 0)
        #expect(output.stdout.contains("XXH64"))
        let cat = try ProcessRunner.run("/usr/bin/zstd", ["-dc", scratch.file("a.csv.zst")])
        #expect(cat.stdout == "id,name\n1,\"a, b\"\n")
    }

    @Test("a file cut inside a frame is reported as truncated")
    func truncatedFile() throws {
        let scratch = try ScratchFolder()
        try Self.compress(Self.sampleData(count: 1_000_000), to: scratch.file("a.zst"))
        let size = try FileManager.default.attributesOfItem(atPath: scratch.file("a.zst"))[.size] as! Int
        #expect(truncate(scratch.file("a.zst"), off_t(size / 2)) == 0)
        let error = try #require(throws: ZstdError.self) { try Self.decompress(scratch.file("a.zst")) }
        #expect(error.kind == .truncated)
        #expect(error.description.contains("a.zst"))
        #expect(error.description.contains("truncated"))
    }

    @Test("a flipped bit is reported as corrupt")
    func flippedBit() throws {
        let scratch = try ScratchFolder()
        try Self.compress(Self.sampleData(count: 200_000), to: scratch.file("a.zst"))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.file("a.zst"))))
        bytes[bytes.count / 3] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: scratch.file("a.zst")))
        let error = try #require(throws: ZstdError.self) { try Self.decompress(scratch.file("a.zst")) }
        #expect(error.kind == .corrupt)
        #expect(error.description.contains("corrupt"))
    }

    @Test("an empty file is refused")
    func emptyFile() throws {
        let scratch = try ScratchFolder()
        _ = FileManager.default.createFile(atPath: scratch.file("a.zst"), contents: Data())
        let error = try #require(throws: ZstdError.self) { try Self.decompress(scratch.file("a.zst")) }
        #expect(error.kind == .empty)
    }

    @Test("text that is not zstd is refused")
    func notZstd() throws {
        let scratch = try ScratchFolder()
        _ = FileManager.default.createFile(atPath: scratch.file("a.zst"), contents: Data("id,name\n1,x\n".utf8))
        let error = try #require(throws: ZstdError.self) { try Self.decompress(scratch.file("a.zst")) }
        #expect(error.kind == .corrupt)
    }

    @Test("a frame asking for a huge window is refused instead of allocated")
    func hugeWindowRefused() throws {
        let scratch = try ScratchFolder()
        // Read from a pipe, zstd cannot shrink the window to the input's size: the frame
        // header asks for 128 MiB.
        let output = try ProcessRunner.run(
            "/bin/bash", ["-c", "head -c 100000 /dev/urandom | zstd -q --long=27 -c > \(scratch.file("big.zst"))"])
        #expect(output.status == 0, "\(output.all)")
        let error = try #require(throws: ZstdError.self) {
            try ZstdDecompressor(maxWindowLog: 24).decompress(path: scratch.file("big.zst")) { _ in }
        }
        #expect(error.kind == .windowTooLarge)
    }

    @Test("a missing file is an I/O error naming it")
    func missingFile() throws {
        let error = try #require(throws: ZstdError.self) { try Self.decompress("/nonexistent/x.zst") }
        #expect(error.description.contains("/nonexistent/x.zst"))
        guard case .io = error.kind else { Issue.record("expected an I/O error, got \(error.kind)"); return }
    }
}
