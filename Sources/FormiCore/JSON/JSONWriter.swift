// Writing JSON text into a reusable byte buffer, with correct string escaping.

public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value in the current container needs a comma before it.
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its capacity.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma = false }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); needsComma = false }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// An object key; the next call writes its value.
    public mutating func key(_ name: some Collection<UInt8>) {
        separate()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func key(_ name: String) {
        var name = name
        name.withUTF8 { key($0) }  // contiguous bytes: the escape scan runs over a buffer, not a String view
    }

    public mutating func string(_ value: some Collection<UInt8>) { separate(); appendString(value); needsComma = true }
    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { string($0) }
    }

    public mutating func int(_ value: Int64) {
        separate()
        // Digits written backwards into a small stack buffer: no String allocated per number.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = value.magnitude
            var start = 20
            repeat {
                start &-= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<20]))
        }
        needsComma = true
    }
    public mutating func bool(_ value: Bool) { separate(); bytes.append(contentsOf: (value ? "true" : "false").utf8); needsComma = true }
    public mutating func null() { separate(); bytes.append(contentsOf: "null".utf8); needsComma = true }

    /// A finite double in the shortest form that reads back exactly; null for NaN and infinities.
    public mutating func double(_ value: Double) {
        guard value.isFinite else { return null() }
        separate()
        bytes.append(contentsOf: value.description.utf8)
        needsComma = true
    }

    /// Text that is already valid JSON (e.g. a value copied from a parsed message).
    public mutating func raw(_ json: some Collection<UInt8>) { separate(); bytes.append(contentsOf: json); needsComma = true }

    /// Bytes inside an open string, escaped (for templates that build a string from parts).
    public mutating func appendEscaped(_ value: some Collection<UInt8>) {
        FormiCore.appendEscaped(value, to: &bytes)
    }

    /// Bytes appended as they are (for templates' literal parts).
    public mutating func appendVerbatim(_ text: some Collection<UInt8>) { bytes.append(contentsOf: text) }

    private mutating func appendString(_ value: some Collection<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        appendEscaped(value)
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }
}

/// Appends `value` escaped for the inside of a JSON string; text that needs no escape is appended whole.
func appendEscaped(_ value: some Collection<UInt8>, to bytes: inout [UInt8]) {
    guard value.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
        bytes.append(contentsOf: value)
        return
    }
    let hex: StaticString = "0123456789abcdef"
    for byte in value {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(0x5C); bytes.append(0x22)
        case UInt8(ascii: "\\"): bytes.append(0x5C); bytes.append(0x5C)
        case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
        case 0..<0x20:
            bytes.append(0x5C); bytes.append(UInt8(ascii: "u")); bytes.append(0x30); bytes.append(0x30)
            bytes.append(hex.utf8Start[Int(byte >> 4)]); bytes.append(hex.utf8Start[Int(byte & 0xF)])
        default: bytes.append(byte)
        }
    }
}
