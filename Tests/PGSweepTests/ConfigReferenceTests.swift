import Foundation
import PGSweep
import Testing
import TestSupport

@Suite("The README's configuration reference")
struct ConfigReferenceTests {
    /// The first cell of each row of the table under "## Configuration", backticks removed.
    static func documentedKeys() throws -> Set<String> {
        let readme = try String(contentsOfFile: RepositoryPaths.file("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "## Configuration") else { return [] }
        let section = readme[start.upperBound...].prefix { _ in true }
        let body = section.range(of: "\n## ").map { section[..<$0.lowerBound] } ?? section
        var keys = Set<String>()
        for line in body.split(separator: "\n") where line.hasPrefix("| `") {
            let cell = line.dropFirst(2).prefix { $0 != "|" }.trimmingCharacters(in: .whitespaces)
            keys.insert(cell.replacingOccurrences(of: "`", with: ""))
        }
        return keys
    }

    @Test("every key the code reads is documented, and every documented key is read")
    func inStep() throws {
        let documented = try Self.documentedKeys()
        let code = ConfigLoader.referenceKeys
        #expect(code.subtracting(documented).sorted() == [], "in the code but not the README")
        #expect(documented.subtracting(code).sorted() == [], "in the README but not the code")
        #expect(documented.count > 30)
    }
}
