import Foundation

/// Where archive files go:
/// `<root>/<database>-<system id>/<schema>.<table>/<YYYY>/<MM>/<DD>/<table>-<YYYYMMDDTHHMMSSZ>-<run>-<NNNN>.csv.zst`.
///
/// Dates are UTC, so names sort by time; the run id and batch number make each name unique
/// within its source's folder. Format 1 files (before archive identity) lie under
/// `<root>/<table>/<YYYY>/...`, with the table's unqualified name.
public enum ArchivePaths {
    /// The path of batch `batch` of run `runID` of `source`, started at `date`.
    public static func dataFile(root: String, source: ArchiveSource, date: Date, runID: Int64, batch: Int) -> String {
        "\(root)/\(dataKey(source: source, date: date, runID: runID, batch: batch))"
    }

    /// The key (path relative to the archive's root) of batch `batch` of run `runID` of
    /// `source`, started at `date`.
    public static func dataKey(source: ArchiveSource, date: Date, runID: Int64, batch: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d/%02d/%02d", c.year!, c.month!, c.day!)
        let stamp = String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        let name = component(source.table)
        return "\(source.folder)/\(day)/\(name)-\(stamp)-\(runID)-\(String(format: "%04d", batch)).csv.zst"
    }

    /// The folder (relative to the root) where format 1 wrote the files of a table called
    /// `table` (unqualified): its name with anything but letters, digits, `_` and `-` as `_`.
    public static func legacyFolder(table: String) -> String {
        String(table.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
    }

    /// `name` as one path component that no other name maps to: ASCII letters, digits, `_`
    /// and `-` stay; every other byte of its UTF-8 becomes `%XX`.
    public static func component(_ name: String) -> String {
        var text = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                text += String(format: "%%%02X", byte)
            }
        }
        return text
    }

    /// Every archive data file (`*.csv.zst`) under `root`, sorted by path (so by time).
    public static func dataFiles(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.hasSuffix(".csv.zst") && !(relative as NSString).lastPathComponent.hasPrefix(".") {
                files.append("\(root)/\(relative)")
            }
        }
        return files.sorted()
    }

    /// Files under `root` left by interrupted writes: temporary names (`.<name>.tmp`).
    public static func temporaryFiles(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") && name.hasSuffix(".tmp") { files.append("\(root)/\(relative)") }
        }
        return files.sorted()
    }

    /// `path` relative to `root` (no leading `/`).
    public static func relative(_ path: String, to root: String) -> String {
        guard path.hasPrefix(root) else { return path }
        return String(path.dropFirst(root.count).drop { $0 == "/" })
    }
}
