import Foundation
import LibPQ

extension Row {
    /// Column `name`, a JSON text (`json_agg(...)::text`), decoded as `T`; SQL NULL is an error.
    func requireJSON<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try decodeJSON(T.self, try require(String.self, name), name: name)
    }

    /// Column number `column`, a JSON text, decoded as `T`; SQL NULL is an error.
    func requireJSON<T: Decodable>(_ type: T.Type, at column: Int) throws -> T {
        try decodeJSON(T.self, try require(String.self, at: column), name: "\(column + 1)")
    }

    private func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, name: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError(kind: .decoding, message: "column \"\(name)\" is not JSON of the expected shape: \(error)")
        }
    }
}
