/// CRC-32 (IEEE 802.3 / zlib polynomial, reflected), as the conformance values in g711.md use.
struct CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        return crc
    }

    private(set) var value: UInt32 = 0xFFFF_FFFF

    mutating func update(_ byte: UInt8) {
        value = Self.table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8)
    }

    mutating func update(int16LE sample: Int16) {
        let bits = UInt16(bitPattern: sample)
        update(UInt8(truncatingIfNeeded: bits))
        update(UInt8(truncatingIfNeeded: bits >> 8))
    }

    var checksum: UInt32 { value ^ 0xFFFF_FFFF }

    static func of(int16LE samples: some Sequence<Int16>) -> UInt32 {
        var crc = CRC32()
        for sample in samples { crc.update(int16LE: sample) }
        return crc.checksum
    }

    static func of(bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32()
        for byte in bytes { crc.update(byte) }
        return crc.checksum
    }
}
