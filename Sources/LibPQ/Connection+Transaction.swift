extension Connection {
    /// Access mode of a transaction started by `transaction(_:_:)`.
    public enum TransactionMode: Sendable {
        case readWrite
        /// `READ ONLY`: the server refuses any write, which is what `--dry-run` relies on.
        case readOnly
    }

    /// Runs `body` inside `BEGIN` ... `COMMIT`; rolls back when `body` throws.
    ///
    /// A `COMMIT` that the server turns into a rollback (because a statement in the
    /// transaction failed and the error was caught) is reported as an error, never as success.
    @discardableResult
    public func transaction<T>(_ mode: TransactionMode = .readWrite, _ body: (Connection) throws -> T) throws -> T {
        guard isIdle else {
            throw PostgresError(kind: .client, message: "a transaction is already open on this connection")
        }
        try execute(mode == .readOnly ? "BEGIN READ ONLY" : "BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackQuietly()
            throw error
        }
        let commit = try execute("COMMIT")
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(
                kind: .server,
                message: "the transaction was rolled back by the server instead of committed (\(commit.commandTag))")
        }
        return value
    }

    /// Rolls back the open transaction, if any; errors are ignored because the caller is
    /// already handling one and a broken connection discards the transaction anyway.
    public func rollbackQuietly() {
        guard isHealthy, !isIdle else { return }
        _ = try? execute("ROLLBACK")
    }
}
