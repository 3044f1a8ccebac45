// The thread-local "last error" message of stateless calls, like errno: set by a failed call, left as is
// by a successful one, readable until the next failed call on the same thread.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum LastError {
    /// Bytes kept per thread, NUL included; longer messages are cut at a UTF-8 character boundary.
    static let capacity = 512

    /// One buffer per thread, allocated on the thread's first error and freed when the thread exits.
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, { free($0) }) == 0 ? key : nil
    }()

    private static let empty: StaticString = ""

    static func set(_ message: String) {
        guard let key, let buffer = buffer(for: key) else { return }
        var utf8 = Array(message.utf8.prefix(capacity - 1))
        // Do not leave half a multi-byte character at the end.
        if utf8.count == capacity - 1 {
            while let last = utf8.last, last & 0xC0 == 0x80 { utf8.removeLast() }
            if let last = utf8.last, last >= 0xC0 { utf8.removeLast() }
        }
        utf8.withUnsafeBufferPointer { bytes in
            if let base = bytes.baseAddress {
                buffer.initialize(from: base, count: bytes.count)
            }
        }
        buffer[utf8.count] = 0
    }

    /// The current thread's last message, or "" if no call on this thread has failed.
    static var current: UnsafePointer<CChar> {
        if let key, let raw = pthread_getspecific(key) {
            return UnsafePointer(raw.assumingMemoryBound(to: CChar.self))
        }
        return UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    private static func buffer(for key: pthread_key_t) -> UnsafeMutablePointer<UInt8>? {
        if let existing = pthread_getspecific(key) {
            return existing.assumingMemoryBound(to: UInt8.self)
        }
        guard let fresh = malloc(capacity) else { return nil }
        guard pthread_setspecific(key, fresh) == 0 else {
            free(fresh)
            return nil
        }
        return fresh.assumingMemoryBound(to: UInt8.self)
    }
}
