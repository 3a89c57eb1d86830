import Foundation
import PGSweep

/// A one-line progress display on stderr (rows, rate, ETA), drawn only on a terminal.
final class ProgressBar: JobObserver, @unchecked Sendable {
    // @unchecked Sendable: all state is touched under `lock`.
    private let lock = NSLock()
    private var label = ""
    private var done: Int64 = 0
    private var total: Int64?
    /// True when `total` is the planner's estimate rather than a count.
    private var estimated = false
    private var started = Date()
    private var lastDraw = Date.distantPast
    /// Job types that get a bar.
    private let types: Set<JobType>

    /// A bar for jobs of `types`, or nil when stderr is not a terminal.
    static func onTerminal(for types: Set<JobType> = [.archive]) -> ProgressBar? {
        isatty(STDERR_FILENO) == 1 ? ProgressBar(types: types) : nil
    }

    init(types: Set<JobType>) { self.types = types }

    func onBatch(_ job: JobDefinition) -> (@Sendable (Int64) -> Void)? {
        guard types.contains(job.type) else { return nil }
        start(job.name, total: nil)
        return { [self] rows in advance(rows) }
    }

    func onEstimate(_ job: JobDefinition) -> (@Sendable (_ rows: Int64, _ estimated: Bool) -> Void)? {
        guard types.contains(job.type) else { return nil }
        return { [self] total, estimated in
            lock.withLock {
                self.total = total
                self.estimated = estimated
            }
        }
    }

    func finished(_ job: JobDefinition) {
        guard types.contains(job.type) else { return }
        end()
    }

    func start(_ label: String, total: Int64?) {
        lock.withLock {
            self.label = label
            self.total = total
            estimated = false
            done = 0
            started = Date()
            lastDraw = .distantPast
        }
    }

    func advance(_ rows: Int64) {
        lock.withLock {
            done += rows
            let now = Date()
            guard now.timeIntervalSince(lastDraw) >= 0.2 else { return }
            lastDraw = now
            draw(now)
        }
    }

    func end() {
        lock.withLock {
            draw(Date())
            LineSink.standardError.endStatusLine()
        }
    }

    /// Sets the exact expected total, for the ETA.
    func expect(_ total: Int64) {
        lock.withLock {
            self.total = total
            estimated = false
        }
    }

    private func draw(_ now: Date) {
        let elapsed = max(now.timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        var line = "\(label): \(done) rows"
        if let expected = total, expected > 0 {
            // A total that turns out short (rows arriving during the run, or an estimate) grows
            // with the work: the bar never shows more done than its total.
            let total = max(expected, done)
            let share = Double(done) / Double(total)
            let width = 24
            let filled = Int(share * Double(width))
            line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(estimated ? "~" : "")\(total) rows"
            if rate > 0, done < total { line += ", ETA \(Int(Double(total - done) / rate))s" }
        }
        line += ", \(Int(rate)) rows/s"
        LineSink.standardError.showStatusLine(line)
    }
}
