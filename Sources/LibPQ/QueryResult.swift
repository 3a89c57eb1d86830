import CLibPQ

/// The complete result of one statement: its rows and its command tag.
public final class QueryResult {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }

    deinit { PQclear(handle) }

    /// The command tag (`UPDATE 12`, `SELECT 3`).
    public var commandTag: String { String(cString: PQcmdStatus(handle)) }

    /// Rows affected by INSERT, UPDATE, DELETE, MERGE, COPY, or returned by SELECT.
    public var affectedRows: Int64 { Int64(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// Column names, in order.
    public var columns: [String] {
        (0..<PQnfields(handle)).map { String(cString: PQfname(handle, $0)) }
    }

    /// The rows of the result.
    public var rows: Rows { Rows(result: self) }

    /// The index of the column called `name`, if any.
    public func columnIndex(_ name: String) -> Int? {
        let index = PQfnumber(handle, "\"\(name.replacingAll("\"", with: "\"\""))\"")
        return index < 0 ? nil : Int(index)
    }

    /// The rows of a `QueryResult`, in order.
    public struct Rows: RandomAccessCollection {
        let result: QueryResult
        public var startIndex: Int { 0 }
        public var endIndex: Int { Int(PQntuples(result.handle)) }
        public subscript(position: Int) -> Row { Row(result: result, index: Int32(position)) }
    }
}

/// One row of a `QueryResult`.
public struct Row {
    let result: QueryResult
    let index: Int32

    /// The raw text of column `column`, or nil for SQL NULL.
    public subscript(column: Int) -> String? {
        guard PQgetisnull(result.handle, index, Int32(column)) == 0 else { return nil }
        return String(cString: PQgetvalue(result.handle, index, Int32(column)))
    }

    /// Column `column` read as `T`, or nil for SQL NULL.
    public func decode<T: PostgresDecodable>(_ type: T.Type, at column: Int) throws -> T? {
        guard column >= 0, column < Int(PQnfields(result.handle)) else {
            throw PostgresError(kind: .client, message: "column \(column) is out of range")
        }
        guard let text = self[column] else { return nil }
        guard let value = T(postgresText: text) else {
            let name = String(cString: PQfname(result.handle, Int32(column)))
            throw PostgresError(
                kind: .decoding,
                message: "column \"\(name)\": \(text.count)-character value is not a valid \(T.self)")
        }
        return value
    }

    /// Column `name` read as `T`, or nil for SQL NULL.
    public func decode<T: PostgresDecodable>(_ type: T.Type, _ name: String) throws -> T? {
        guard let column = result.columnIndex(name) else {
            throw PostgresError(kind: .client, message: "no column \"\(name)\" in the result")
        }
        return try decode(type, at: column)
    }

    /// Column `column` read as `T`; SQL NULL is an error naming the column.
    public func require<T: PostgresDecodable>(_ type: T.Type, at column: Int) throws -> T {
        guard let value = try decode(type, at: column) else {
            let name = String(cString: PQfname(result.handle, Int32(column)))
            throw PostgresError(kind: .decoding, message: "column \"\(name)\" is NULL")
        }
        return value
    }

    /// Column `name` read as `T`; SQL NULL is an error.
    public func require<T: PostgresDecodable>(_ type: T.Type, _ name: String) throws -> T {
        guard let value = try decode(type, name) else {
            throw PostgresError(kind: .decoding, message: "column \"\(name)\" is NULL")
        }
        return value
    }
}
