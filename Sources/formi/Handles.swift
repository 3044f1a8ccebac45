// The audited boundary between C handles and Swift objects. A handle is a retained Swift object
// passed out as an opaque pointer: `make` retains, `release` balances it, `object` borrows.

enum Handle {
    static func make(_ object: AnyObject) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(object).toOpaque())
    }

    /// The object behind a handle; NULL is FORMI_EINVAL.
    static func object<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) throws(ABIError) -> T {
        try object(handle.map { UnsafeRawPointer($0) }, as: type)
    }

    /// The object behind a `const` handle.
    static func object<T: AnyObject>(_ handle: UnsafeRawPointer?, as type: T.Type) throws(ABIError) -> T {
        guard let handle else { throw ABIError(.invalidArgument, "the \(T.self) handle is NULL") }
        return Unmanaged<T>.fromOpaque(handle).takeUnretainedValue()
    }

    /// Calls `body` with the object behind a handle, borrowed without retaining it (the handle holds it
    /// for the duration of the call): for calls made once per audio frame.
    static func withObject<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type, _ body: (T) throws(ABIError) -> Void) throws(ABIError) {
        guard let handle else { throw ABIError(.invalidArgument, "the \(T.self) handle is NULL") }
        var failure: ABIError?
        Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle))._withUnsafeGuaranteedRef { object in
            do throws(ABIError) { try body(object) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Releases the handle's object; NULL is a no-op.
    static func release<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) {
        guard let handle else { return }
        Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).release()
    }

    /// Runs the body of a `formi_X_new`: the handle, or NULL with the status in `*status` (which may be NULL).
    static func create(_ status: UnsafeMutablePointer<Int32>?, _ body: () throws(ABIError) -> AnyObject) -> OpaquePointer? {
        var handle: OpaquePointer?
        let result = abiCall { () throws(ABIError) in handle = make(try body()) }
        status?.pointee = result
        return handle
    }
}
