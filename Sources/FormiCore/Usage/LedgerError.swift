/// Why a ledger call failed. Each case maps to one status code of the C API; the message names the
/// field or the condition, and nothing was written when any of these is thrown.
public enum LedgerError: Error, Sendable, Equatable {
    /// The input is not JSON.
    case json(String)
    /// A field is missing, misspelt, of the wrong type or out of range; or a date range is reversed.
    case invalid(String)
    /// No such query, interaction or balance.
    case notFound(String)
    /// A debit the balance cannot cover, or a range too long to answer.
    case limit(String)
    /// The write contradicts what is stored (an interaction id recorded under another key).
    case conflict(String)
    /// SQLite refused: corrupt or read-only file, full disk, I/O error; or the file was moved away.
    case storage(String)
    /// Another connection kept the file locked until the busy timeout: nothing was done, try again.
    case busy(String)

    public var message: String {
        switch self {
        case .json(let m), .invalid(let m), .notFound(let m), .limit(let m), .conflict(let m), .storage(let m), .busy(let m): m
        }
    }

    static func sqlite(_ error: SQLiteError) -> LedgerError {
        if error.isBusy {
            return .busy("busy: another process kept the ledger locked until the busy timeout: \(error.message) (SQLite code \(error.code)); nothing was written, try again")
        }
        return .storage("storage: \(error.message) (SQLite code \(error.code))")
    }

    var isBusy: Bool {
        if case .busy = self { return true }
        return false
    }
}
