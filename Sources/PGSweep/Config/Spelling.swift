/// "Did you mean" suggestions for misspelt keys.
public enum Spelling {
    /// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, score) = scored else { return nil }
        return score <= max(1, min(word.count, best.count) / 3) ? best : nil
    }

    /// `; did you mean "x"?` when `word` looks like a typo of a candidate, else
    /// `; expected one of a, b, c` (empty when there are no candidates).
    public static func hint(for word: String, in candidates: [String]) -> String {
        if let suggestion = closest(to: word, in: candidates) { return "; did you mean \(suggestion.debugDescription)?" }
        return candidates.isEmpty ? "" : "; expected one of \(candidates.joined(separator: ", "))"
    }

    /// Edit distance between two strings, counting a swap of neighbours as one edit
    /// (optimal string alignment), so `tabel` is one edit from `table`.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
