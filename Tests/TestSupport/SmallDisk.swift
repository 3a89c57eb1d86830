import Foundation

/// A small tmpfs mounted on a new folder, for tests of a full disk. Call `unmount()` when done
/// (in a `defer`: a value's lifetime may end at its last use, too early for a deinit).
public final class SmallDisk: Sendable {
    /// Where it is mounted.
    public let path: String

    /// Mounts a tmpfs of `size` (`256k`) on `path`, creating the folder.
    public init(at path: String, size: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
        guard mount.status == 0 else { throw ProcessRunnerError(message: "mounting a small tmpfs failed: \(mount.all)") }
    }

    public func unmount() { _ = try? ProcessRunner.run("/bin/umount", [path]) }
}
