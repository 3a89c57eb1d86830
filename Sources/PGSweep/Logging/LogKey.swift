/// Every key pgsweep writes in structured log lines, in one place.
public enum LogKey {
    public static let timestamp = "ts"
    public static let level = "level"
    public static let message = "msg"
    public static let job = "job"
    public static let runID = "run_id"
    public static let index = "index"
    public static let error = "error"
}
