import Foundation

/// Where archive files go: `<root>/<table>/<YYYY>/<MM>/<DD>/<table>-<YYYYMMDDTHHMMSSZ>-<run>-<NNNN>.csv.zst`.
///
/// Dates are UTC, so names sort by time; the run id and batch number make each name unique.
public enum ArchivePaths {
    /// The path of batch `batch` of run `runID` of `table` (its unqualified name) started at `date`.
    public static func dataFile(root: String, table: String, date: Date, runID: Int64, batch: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d/%02d/%02d", c.year!, c.month!, c.day!)
        let stamp = String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        let safe = table.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" }
        let name = String(safe)
        return "\(root)/\(name)/\(day)/\(name)-\(stamp)-\(runID)-\(String(format: "%04d", batch)).csv.zst"
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
}
