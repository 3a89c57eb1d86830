import Foundation

/// Paths inside this repository and the build folder, for tests.
public enum RepositoryPaths {
    /// The repository's top folder.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file or folder in the repository, by relative path.
    public static func file(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The folder holding the running test binary and the package's executables.
    public static let buildProducts: URL = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // On Linux the test binary sits directly in the products folder; on macOS inside a bundle.
        while !url.path.hasSuffix("/debug") && !url.path.hasSuffix("/release") && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }()

    /// A built executable of the package (`pgsweep`, `pgsweep-bench`).
    public static func executable(_ name: String) -> String { buildProducts.appendingPathComponent(name).path }
}
