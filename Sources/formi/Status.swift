// Status codes of the C API. The numbers are ABI: never renumber, only append.
// Keep in step with the FORMI_E* defines in include/formi.h (bindings/c/tests/test_basics.c checks).

enum Status: Int32 {
    case ok = 0
    case invalidArgument = -1
    case outOfMemory = -2
    case bufferTooSmall = -3
    case badLength = -4
    case overflow = -5
    case base64 = -6
    case json = -7
    case unsupported = -8
    case state = -9
    case notFound = -10
    case limit = -11
    case invalidTemplate = -12
    case storage = -13
    case `internal` = -14
    case busy = -15

    /// The fixed description `formi_strerror` returns: a static, NUL-terminated string.
    var description: StaticString {
        switch self {
        case .ok: "ok"
        case .invalidArgument: "invalid argument"
        case .outOfMemory: "out of memory"
        case .bufferTooSmall: "output buffer too small"
        case .badLength: "input length is not a whole number of samples or frames"
        case .overflow: "length or size overflows"
        case .base64: "invalid base64"
        case .json: "malformed JSON"
        case .unsupported: "unsupported format, rate, channel count or option"
        case .state: "not allowed in the current state"
        case .notFound: "no such name or id"
        case .limit: "a configured limit was exceeded"
        case .invalidTemplate: "invalid template or definition"
        case .storage: "storage error"
        case .internal: "internal error"
        case .busy: "busy: another process holds the lock; try again"
        }
    }
}

/// A failed C API call: its status and a message for `formi_last_error`.
struct ABIError: Error {
    let status: Status
    let message: String

    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Runs the body of an exported function: returns `FORMI_OK`, or records the message of the error on this
/// thread and returns its status. Every export with a status result goes through here.
@inline(__always)
func abiCall(_ body: () throws(ABIError) -> Void) -> Int32 {
    do {
        try body()
        return Status.ok.rawValue
    } catch {
        LastError.set(error.message)
        return error.status.rawValue
    }
}
