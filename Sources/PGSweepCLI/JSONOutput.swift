import Foundation

/// Prints command results as JSON (`--json`): pretty, keys sorted and in snake_case (as in
/// the archive manifests), dates in ISO 8601.
enum JSONOutput {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        // Also applied to dictionary keys; the printed dictionaries are keyed by statuses and
        // actions, already snake_case.
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
