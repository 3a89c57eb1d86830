import Foundation
import LibPQ

extension Row {
    /// Column `name`, a JSON text (`json_agg(...)::text`), decoded as `T`; SQL NULL is an error.
    func requireJSON<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let text = try require(String.self, name)
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError(kind: .decoding, message: "column \"\(name)\" is not JSON of the expected shape: \(error)")
        }
    }
}
