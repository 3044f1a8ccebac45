// The audited boundary between C (pointer, length) pairs and Swift buffers. Every export turns its
// arguments into buffers here, so every pointer and length check of the C API lives in this file:
// NULL is accepted only with a length of 0, lengths must fit in `Int`, and byte sizes must not overflow.

enum CBuffer {
    /// `count` elements of input at `pointer`.
    static func input<T>(_ pointer: UnsafePointer<T>?, count: UInt, _ name: StaticString) throws(ABIError) -> UnsafeBufferPointer<T> {
        let count = try elementCount(count, of: T.self, name)
        guard count > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        guard let pointer else { throw ABIError(.invalidArgument, "\(name) is NULL but its length is \(count)") }
        return UnsafeBufferPointer(start: pointer, count: count)
    }

    /// `count` bytes of input at `pointer`, as raw bytes (no alignment needed).
    static func inputBytes(_ pointer: UnsafeRawPointer?, count: UInt, _ name: StaticString) throws(ABIError) -> UnsafeRawBufferPointer {
        let count = try elementCount(count, of: UInt8.self, name)
        guard count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard let pointer else { throw ABIError(.invalidArgument, "\(name) is NULL but its length is \(count)") }
        return UnsafeRawBufferPointer(start: pointer, count: count)
    }

    /// An output buffer of `capacity` elements that must hold at least `required` of them.
    static func output<T>(
        _ pointer: UnsafeMutablePointer<T>?, capacity: UInt, required: Int, _ name: StaticString
    ) throws(ABIError) -> UnsafeMutableBufferPointer<T> {
        let capacity = try elementCount(capacity, of: T.self, name)
        guard capacity >= required else {
            throw ABIError(.bufferTooSmall, "\(name) holds \(capacity) but \(required) are needed")
        }
        guard capacity > 0 else { return UnsafeMutableBufferPointer(start: nil, count: 0) }
        guard let pointer else { throw ABIError(.invalidArgument, "\(name) is NULL but its size is \(capacity)") }
        return UnsafeMutableBufferPointer(start: pointer, count: capacity)
    }

    /// An output byte buffer of `capacity` bytes that must hold at least `required` of them.
    static func outputBytes(
        _ pointer: UnsafeMutableRawPointer?, capacity: UInt, required: Int, _ name: StaticString
    ) throws(ABIError) -> UnsafeMutableRawBufferPointer {
        let typed = try output(pointer?.assumingMemoryBound(to: UInt8.self), capacity: capacity, required: required, name)
        return UnsafeMutableRawBufferPointer(typed)
    }

    /// Where a count of samples is written back; NULL is an error.
    static func result(_ pointer: UnsafeMutablePointer<UInt>?, _ name: StaticString) throws(ABIError) -> UnsafeMutablePointer<UInt> {
        guard let pointer else { throw ABIError(.invalidArgument, "\(name) is NULL") }
        return pointer
    }

    /// `count` as an `Int` such that `count * stride(T)` bytes is representable.
    static func elementCount<T>(_ count: UInt, of type: T.Type, _ name: StaticString) throws(ABIError) -> Int {
        let stride = UInt(MemoryLayout<T>.stride)
        guard count <= UInt(Int.max) / stride else {
            throw ABIError(.overflow, "\(name): \(count) elements of \(stride) bytes overflow the address space")
        }
        return Int(bitPattern: count)
    }

    /// `count * factor` as an element count, or an overflow error naming `name`.
    static func scaled(_ count: Int, by factor: Int, _ name: StaticString) throws(ABIError) -> Int {
        let (product, overflow) = count.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw ABIError(.overflow, "\(name): \(count) × \(factor) overflows") }
        return product
    }
}
