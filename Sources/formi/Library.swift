// Library-wide exports: version, status strings, last error, and freeing what the library hands out.

import CFormi

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The library version: include/formi.h is its one home (FORMI_VERSION_*); the Makefile and the Python
/// package read it from there.
enum Version {
    static let major = Int32(FORMI_VERSION_MAJOR)
    static let minor = Int32(FORMI_VERSION_MINOR)
    static let patch = Int32(FORMI_VERSION_PATCH)
    /// FORMI_VERSION as a C string that lives as long as the process.
    nonisolated(unsafe) static let text: UnsafePointer<CChar> = {  // set once, never written again
        guard let copy = strdup(FORMI_VERSION) else { return cString("?") }
        return UnsafePointer(copy)
    }()
}

private func cString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c public func formi_version() -> UnsafePointer<CChar> {
    Version.text
}

@c public func formi_version_number() -> Int32 {
    Version.major &* 10_000 &+ Version.minor &* 100 &+ Version.patch
}

@c public func formi_strerror(_ status: Int32) -> UnsafePointer<CChar> {
    guard let known = Status(rawValue: status) else { return cString("unknown status code") }
    return cString(known.description)
}

@c public func formi_last_error() -> UnsafePointer<CChar> {
    LastError.current
}

@c public func formi_free(_ pointer: UnsafeMutableRawPointer?) {
    free(pointer)
}
