/// The version of this pgsweep build.
public enum PGSweepVersion {
    public static let current = "0.1.0"
}
