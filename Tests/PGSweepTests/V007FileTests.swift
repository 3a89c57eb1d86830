import Foundation
import LibPQ
import PGSweep
import Testing
import TestSupport

@Suite("The V007 migration file and the code agree")
struct V007FileTests {
    @Test("ops/sql/V007 creates exactly the indexes schema apply creates")
    func fileMatchesCode() throws {
        let text = try String(
            contentsOfFile: RepositoryPaths.file("ops/sql/V007__Add_processing_indexes.sql"), encoding: .utf8)
        let fromFile = text.split(separator: "\n")
            .filter { $0.hasPrefix("CREATE INDEX") }
            .map { String($0.dropLast()) }  // the trailing semicolon
        let table = QualifiedName(schema: nil, name: "processing_queue")
        let fromCode = QueueIndex.v007.map {
            $0.createStatement(for: table, concurrently: false).replacingOccurrences(of: "\"", with: "")
        }
        #expect(fromFile == fromCode)
    }

    @Test("index names follow the seed for the default table and are cut to 63 bytes")
    func names() {
        let table = QualifiedName(schema: "app", name: "processing_queue")
        #expect(QueueIndex.v007.map { $0.name(for: table) }.first == "idx_processing_queue_status_created_at")
        let long = QualifiedName(schema: nil, name: String(repeating: "q", count: 60))
        #expect(QueueIndex.v007.allSatisfy { $0.name(for: long).utf8.count == 63 })
    }
}
