// pgsweep-bench: measurements that need pgsweep's own layers in a separate process, so that
// its peak memory and speed are not mixed with a test runner's.
//
//   pgsweep-bench copy-out --conninfo C --sql "COPY ... TO STDOUT ..." --output FILE [--level N]
//       streams COPY output through the zstd compressor into FILE (created, never
//       overwritten) and prints one JSON line: rows, raw_bytes, compressed_bytes, seconds,
//       peak_rss_kib.
import Foundation
import LibPQ
import Logging
import Zstd

struct Failure: Error, CustomStringConvertible {
    var description: String
}

func option(_ name: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

/// The process's peak resident set size in KiB (`VmHWM`).
func peakResidentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
    }
    return -1
}

func copyOut(_ arguments: [String]) throws {
    guard let conninfo = option("--conninfo", in: arguments), let sql = option("--sql", in: arguments),
        let output = option("--output", in: arguments)
    else { throw Failure(description: "copy-out needs --conninfo, --sql and --output") }
    let level = Int32(option("--level", in: arguments) ?? "3") ?? 3
    let connection = try Connection(conninfo: conninfo, logger: Logger(label: "bench"))
    let fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
    guard fd >= 0 else { throw Failure(description: "\(output): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let compressor = try ZstdCompressor(fd: fd, level: level)
    let started = DispatchTime.now()
    let rows = try connection.copyOut(sql) { try compressor.write($0) }
    try compressor.finish()
    guard fsync(fd) == 0 else { throw Failure(description: "fsync: \(String(cString: strerror(errno)))") }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
    print(
        "{\"rows\":\(rows),\"raw_bytes\":\(compressor.bytesIn),\"compressed_bytes\":\(compressor.bytesOut),"
            + "\"seconds\":\(seconds),\"peak_rss_kib\":\(peakResidentKiB())}")
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "copy-out": try copyOut(Array(arguments.dropFirst()))
    default: throw Failure(description: "usage: pgsweep-bench copy-out --conninfo C --sql S --output FILE [--level N]")
    }
} catch {
    FileHandle.standardError.write(Data("pgsweep-bench: \(error)\n".utf8))
    exit(1)
}
