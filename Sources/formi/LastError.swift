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
        var message = message
        let length = message.withUTF8 { utf8 in
            var length = min(utf8.count, capacity - 1)
            // Do not cut a multi-byte character: back up to the start of the one at the cut.
            if length < utf8.count {
                while length > 0, utf8[length] & 0xC0 == 0x80 { length -= 1 }
            }
            if let base = utf8.baseAddress { buffer.update(from: base, count: length) }
            return length
        }
        buffer[length] = 0
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
