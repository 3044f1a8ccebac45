// Library-wide exports: version, status strings, last error, and freeing what the library hands out.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The library version; include/formi.h carries the same numbers as FORMI_VERSION_* macros.
enum Version {
    static let major: Int32 = 0
    static let minor: Int32 = 1
    static let patch: Int32 = 0
    static let string: StaticString = "0.1.0"
}

private func cString(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c public func formi_version() -> UnsafePointer<CChar> {
    cString(Version.string)
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
