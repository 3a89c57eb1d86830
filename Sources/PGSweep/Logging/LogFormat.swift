/// How log lines are written.
public enum LogFormat: String, Sendable, CaseIterable {
    /// One JSON object per line: `ts`, `level`, `msg`, then metadata keys.
    case json
    /// `ts level msg key=value...` for people at a terminal.
    case text
}
