// pgsweep-bench: measurements that need pgsweep's own layers in a separate process, so that
// its peak memory and speed are not mixed with a test runner's.
//
//   pgsweep-bench copy-out --conninfo C --sql "COPY ... TO STDOUT ..." --output FILE [--level N]
//       streams COPY output through the zstd compressor into FILE (created, never
//       overwritten) and prints one JSON line: rows, raw_bytes, compressed_bytes, seconds,
//       peak_rss_kib.
//   pgsweep-bench write-file --input CSV --directory DIR [--level N] [--repeat N] [--chunk BYTES]
//       feeds a CSV file (with its header) through an archive file writer into a new file
//       under DIR, in chunks of whole lines (256 kB by default, as a COPY's), N times, and prints one JSON line: rows,
//       the id and created_at ranges, the least CPU seconds (user + system) of one pass, and
//       its wall seconds. The client's
//       own cost of archiving, without a server sharing the machine.
import ArchiveFormat
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

/// CPU seconds (user + system) this process has used so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let seconds = { (time: timeval) in Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func writeFile(_ arguments: [String]) throws {
    guard let input = option("--input", in: arguments), let directory = option("--directory", in: arguments)
    else { throw Failure(description: "write-file needs --input and --directory") }
    let level = Int32(option("--level", in: arguments) ?? "3") ?? 3
    let passes = Int(option("--repeat", in: arguments) ?? "3") ?? 3
    let chunk = Int(option("--chunk", in: arguments) ?? "262144") ?? 262_144
    let data = try Data(contentsOf: URL(fileURLWithPath: input))
    guard let header = data.firstIndex(of: 0x0A) else { throw Failure(description: "\(input): no header line") }
    let names = String(decoding: data[..<header], as: UTF8.self).split(separator: ",").map(String.init)
    guard let id = names.firstIndex(of: "id"), let createdAt = names.firstIndex(of: "created_at")
    else { throw Failure(description: "\(input): the header has no id or created_at") }
    let store = LocalArchiveStore(root: directory)
    var best = (cpu: Double.infinity, wall: 0.0)
    var facts: ArchiveFileWriter.Facts?
    for pass in 0..<passes {
        let cpu = cpuSeconds()
        let started = DispatchTime.now()
        let writer = try ArchiveFileWriter(
            store: store, key: "bench/\(ProcessInfo.processInfo.processIdentifier)-\(pass).csv.zst", level: level,
            idColumn: id, createdAtColumn: createdAt)
        try data.withUnsafeBytes { bytes in
            var start = 0
            while start < bytes.count {
                // Whole lines, as a COPY's chunks hold whole rows.
                var end = min(bytes.count, start + chunk)
                while end < bytes.count && bytes[end - 1] != 0x0A { end -= 1 }
                if end == start { end = bytes.count }
                try writer.write(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                start = end
            }
        }
        facts = try writer.finish()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let used = cpuSeconds() - cpu
        if used < best.cpu { best = (used, wall) }
    }
    guard let facts else { throw Failure(description: "write-file: --repeat must be at least 1") }
    print(
        "{\"rows\":\(facts.rows),\"ids\":\"\(facts.minID ?? 0)..\(facts.maxID ?? 0)\",\"created_at\":\"\(facts.minCreatedAt ?? "")..\(facts.maxCreatedAt ?? "")\","
            + "\"cpu_seconds\":\(best.cpu),\"wall_seconds\":\(best.wall)}")
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "copy-out": try copyOut(Array(arguments.dropFirst()))
    case "write-file": try writeFile(Array(arguments.dropFirst()))
    default:
        throw Failure(
            description: "usage: pgsweep-bench copy-out --conninfo C --sql S --output FILE [--level N]\n"
                + "       pgsweep-bench write-file --input CSV --directory DIR [--level N] [--repeat N] [--chunk BYTES]")
    }
} catch {
    FileHandle.standardError.write(Data("pgsweep-bench: \(error)\n".utf8))
    exit(1)
}
