// Exports of the usage ledger. JSON in and out; each call checks its arguments, then hands over to
// FormiCore's Usage folder. A failure's message is kept on the handle and on the thread.

#if canImport(Glibc)
import Glibc
#endif
import FormiCore

final class LedgerHandle {
    let ledger: Ledger
    let lastError = CStringSlot()

    init(_ ledger: Ledger) {
        self.ledger = ledger
        lastError.set("")
    }

    /// Runs a JSON-in, JSON-out call: the answer in `*out` (NULL on failure).
    func call(_ json: UnsafePointer<CChar>?, _ length: UInt, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
              _ body: (UnsafeRawBufferPointer) throws(LedgerError) -> [UInt8]) -> Int32 {
        let status = abiCall { () throws(ABIError) in
            guard let out else { throw ABIError(.invalidArgument, "out_json is NULL") }
            out.pointee = nil
            let bytes = try CBuffer.inputBytes(json, count: length, "json")
            let answer: [UInt8]
            do throws(LedgerError) {
                answer = try body(bytes)
            } catch {
                throw ABIError(error)
            }
            out.pointee = try mallocString(answer)
        }
        if status != Status.ok.rawValue { lastError.set(String(cString: LastError.current)) }
        return status
    }
}

extension ABIError {
    init(_ error: LedgerError) {
        switch error {
        case .json: self.init(.json, error.message)
        case .invalid: self.init(.invalidArgument, error.message)
        case .notFound: self.init(.notFound, error.message)
        case .limit: self.init(.limit, error.message)
        case .conflict: self.init(.state, error.message)
        case .storage: self.init(.storage, error.message)
        case .busy: self.init(.busy, error.message)
        }
    }
}

@c public func formi_ledger_open(_ path: UnsafePointer<CChar>?, _ status: UnsafeMutablePointer<Int32>?) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        let file = path.map { String(cString: $0) }
        if file?.isEmpty == true { throw ABIError(.invalidArgument, "path is empty (NULL opens an in-memory ledger)") }
        do throws(LedgerError) {
            return LedgerHandle(try Ledger(location: file))
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_ledger_record(_ handle: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: UInt,
                                  _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let object = try? Handle.object(handle, as: LedgerHandle.self) else { return nullHandle(out) }
    return object.call(json, length, out) { bytes throws(LedgerError) in try object.ledger.record(json: bytes) }
}

@c public func formi_ledger_credit(_ handle: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: UInt,
                                  _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let object = try? Handle.object(handle, as: LedgerHandle.self) else { return nullHandle(out) }
    return object.call(json, length, out) { bytes throws(LedgerError) in try object.ledger.credit(json: bytes) }
}

@c public func formi_ledger_query(_ handle: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: UInt,
                                 _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let object = try? Handle.object(handle, as: LedgerHandle.self) else { return nullHandle(out) }
    return object.call(json, length, out) { bytes throws(LedgerError) in try object.ledger.query(json: bytes) }
}

@c public func formi_ledger_set_busy_timeout(_ handle: OpaquePointer?, _ timeoutMs: Int32) -> Int32 {
    guard let object = try? Handle.object(handle, as: LedgerHandle.self) else { return nullHandle(nil) }
    let status = abiCall { () throws(ABIError) in
        guard timeoutMs >= 0 else { throw ABIError(.invalidArgument, "timeout_ms is \(timeoutMs); it must be 0 or more") }
        object.ledger.busyTimeout = Int64(timeoutMs)
    }
    if status != Status.ok.rawValue { object.lastError.set(String(cString: LastError.current)) }
    return status
}

@c public func formi_ledger_last_error(_ handle: UnsafeRawPointer?) -> UnsafePointer<CChar>? {
    let empty = UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
    guard let object = try? Handle.object(handle, as: LedgerHandle.self) else { return empty }
    return object.lastError.pointer.map { UnsafePointer($0) } ?? empty
}

@c public func formi_ledger_close(_ handle: OpaquePointer?) {
    Handle.release(handle, as: LedgerHandle.self)
}

/// A NULL ledger handle: FORMI_EINVAL, and `*out` cleared when it can be.
private func nullHandle(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    out?.pointee = nil
    return abiCall { () throws(ABIError) in throw ABIError(.invalidArgument, "the ledger handle is NULL") }
}
