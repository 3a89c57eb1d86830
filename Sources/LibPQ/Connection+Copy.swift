import CLibPQ

extension Connection {
    /// Runs a `COPY ... TO STDOUT` statement and hands its output to `consume` in chunks of
    /// at most `chunkSize` bytes (a chunk holds whole rows unless one row is larger).
    ///
    /// Nothing is held beyond one chunk, so any amount of data streams in bounded memory.
    /// When `consume` throws, the statement is cancelled, its remaining output discarded, and
    /// the error rethrown. Returns the row count from the command tag.
    @discardableResult
    public func copyOut(
        _ sql: String, chunkSize: Int = 256 * 1024, _ consume: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        try copyOut(sql, chunkSize: chunkSize) { (buffer: inout [UInt8], _: Int) in
            defer { buffer.removeAll(keepingCapacity: true) }
            try buffer.withUnsafeBytes { try consume($0) }
        }
    }

    /// As `copyOut(_:chunkSize:_:)`, handing each chunk over as an array the consumer keeps
    /// (no copy is made of it), with the number of COPY rows in it (the header line, when
    /// the statement asks for one, is the first chunk's first row). With `cutEvery`, a chunk
    /// also ends after every `cutEvery`th row of the COPY.
    @discardableResult
    public func copyOutChunks(
        _ sql: String, chunkSize: Int = 256 * 1024, cutEvery: Int? = nil, _ consume: (_ chunk: [UInt8], _ rows: Int) throws -> Void
    ) throws -> Int64 {
        try copyOut(sql, chunkSize: chunkSize, cutEvery: cutEvery) { (buffer: inout [UInt8], rows: Int) in
            var chunk = [UInt8]()
            chunk.reserveCapacity(chunkSize)
            swap(&chunk, &buffer)
            try consume(chunk, rows)
        }
    }

    /// Runs the COPY, calling `flush` with each full chunk and its row count; `flush` leaves
    /// the buffer empty.
    private func copyOut(
        _ sql: String, chunkSize: Int, cutEvery: Int? = nil, flush: (inout [UInt8], Int) throws -> Void
    ) throws -> Int64 {
        try startCopy(sql, expecting: PGRES_COPY_OUT)
        var buffer = [UInt8]()
        buffer.reserveCapacity(chunkSize)
        var rows = 0
        var total = 0
        let cut = max(1, cutEvery ?? Int.max)
        var consumerError: (any Error)?
        func deliver() {
            defer { rows = 0 }
            do {
                try flush(&buffer, rows)
            } catch {
                consumerError = error
                cancelHandle()?.cancel()
            }
        }
        while true {
            var row: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(handle, &row, 0)
            if length > 0, let row {
                defer { PQfreemem(row) }
                guard consumerError == nil else { continue }
                let bytes = UnsafeRawBufferPointer(start: row, count: Int(length))
                if buffer.count + bytes.count > chunkSize, !buffer.isEmpty { deliver() }
                if consumerError == nil {
                    buffer.append(contentsOf: bytes)
                    rows += 1
                    total += 1
                    if total % cut == 0 { deliver() }
                }
                continue
            }
            if length == -1 { break }  // end of the COPY data
            // -2: an error; the result below says which.
            break
        }
        if consumerError == nil, !buffer.isEmpty { deliver() }
        let result = PQgetResult(handle)
        drainResultsAfter(result)
        if let consumerError {
            if let result { PQclear(result) }
            throw consumerError
        }
        return try check(result).affectedRows
    }

    /// Runs a `COPY ... FROM STDIN` statement, feeding it what `produce` writes.
    ///
    /// When `produce` throws, the COPY is aborted (the server discards what it received)
    /// and the error rethrown. Returns the row count from the command tag.
    @discardableResult
    public func copyIn(_ sql: String, _ produce: (inout CopyInWriter) throws -> Void) throws -> Int64 {
        try startCopy(sql, expecting: PGRES_COPY_IN)
        var writer = CopyInWriter(connection: self)
        do {
            try produce(&writer)
        } catch {
            _ = PQputCopyEnd(handle, "aborted by pgsweep")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            let error = connectionError()
            drainResults()
            throw error
        }
        let result = PQgetResult(handle)
        drainResultsAfter(result)
        return try check(result).affectedRows
    }

    private func startCopy(_ sql: String, expecting status: ExecStatusType) throws {
        guard let result = PQexec(handle, sql) else {
            throw connectionError()
        }
        guard PQresultStatus(result) == status else {
            _ = try check(result)  // throws the server's error, or the unexpected-COPY error
            throw PostgresError(kind: .client, message: "statement did not start a COPY")
        }
        PQclear(result)
    }

    /// Discards any results after `result`, which the caller keeps.
    private func drainResultsAfter(_ result: OpaquePointer?) {
        guard result != nil else { return }
        drainResults()
    }
}

/// Sends COPY data to the server during `Connection.copyIn`.
public struct CopyInWriter {
    let connection: Connection

    /// Sends `bytes` as the next part of the COPY data (any split of rows is fine).
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        let status = bytes.withMemoryRebound(to: CChar.self) { chars in
            PQputCopyData(connection.handle, chars.baseAddress, Int32(chars.count))
        }
        guard status == 1 else {
            throw connection.connectionError()
        }
    }
}
