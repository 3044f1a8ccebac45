// Growable bytes addressed by offset. Queues keep ranges rather than pointers, so growing the store
// never leaves a dangling view; a view is taken only when an item is handed out, and stays valid until
// the store next grows or is emptied (the session's "until the next call" rule).

struct ByteStore: ~Copyable {
    private var storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: max(capacity, 64), alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Room for `extra` more bytes at the end, growing by doubling.
    mutating func reserve(_ extra: Int) {
        let needed = count &+ extra
        guard needed > storage.count else { return }
        var size = storage.count
        while size < needed { size &*= 2 }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        if count > 0 { grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[0..<count])) }
        storage.deallocate()
        storage = grown
    }

    @discardableResult
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Range<Int> {
        reserve(bytes.count)
        let start = count
        if !bytes.isEmpty {
            UnsafeMutableRawBufferPointer(rebasing: storage[start..<(start &+ bytes.count)]).copyMemory(from: bytes)
        }
        count &+= bytes.count
        return start..<count
    }

    @discardableResult
    mutating func append(_ bytes: [UInt8]) -> Range<Int> {
        bytes.withUnsafeBytes { append($0) }
    }

    /// `length` bytes at the end for the caller to fill in place.
    mutating func extend(by length: Int) -> (range: Range<Int>, room: UnsafeMutableRawBufferPointer) {
        reserve(length)
        let start = count
        count &+= length
        return (start..<count, UnsafeMutableRawBufferPointer(rebasing: storage[start..<count]))
    }

    /// Gives back the end of the store (after an `extend` that used less).
    mutating func truncate(to length: Int) {
        count = min(count, max(0, length))
    }

    func view(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[range])
    }

    mutating func removeAll() { count = 0 }

    /// Drops the first `length` bytes, moving the rest to the front (ranges after it shift by `length`).
    mutating func dropFront(_ length: Int) {
        let length = min(max(0, length), count)
        let rest = count &- length
        if rest > 0, let base = storage.baseAddress {
            base.copyMemory(from: base.advanced(by: length), byteCount: rest)
        }
        count = rest
    }
}
