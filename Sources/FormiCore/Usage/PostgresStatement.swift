// A statement of the ledger's SQL on PostgreSQL: `?N` becomes `$N`, it is prepared once per connection
// (with the parameter types of its bindings: int8, text, bytea), run on the first `next()` or
// `execute()`, and its rows are read from the result as text.

import CPostgres

final class PostgresStatement: LedgerStatement {
    private unowned let store: PostgresStore
    private let sql: String
    private let name: String
    /// Which parameters the SQL uses (a parameter bound but unused still needs a type to prepare).
    private let used: [Bool]
    private var preparedOn = -1

    private enum Value {
        case null, int(Int64), text(String), blob([UInt8])
    }
    private var values: [Value?]
    /// Oids: int8 20, text 25, bytea 17.
    private var types: [UInt32]

    private var result: OpaquePointer?
    private var row: Int32 = -1
    private var decodedBlob: (column: Int32, bytes: [UInt8])?

    init(ledgerSQL: String, name: String, store: PostgresStore) {
        var translated = ""
        var used: [Bool] = []
        var scalars = Array(ledgerSQL.unicodeScalars)[...]
        var inQuote = false
        while let c = scalars.popFirst() {
            if c == "'" { inQuote.toggle() }
            guard c == "?", !inQuote else { translated.unicodeScalars.append(c); continue }
            var number = 0
            while let d = scalars.first, d.value >= 48, d.value <= 57, number < 1000 {
                number = number * 10 + Int(d.value - 48)
                scalars.removeFirst()
            }
            translated += "$\(number)"
            if number > 0 {
                if used.count < number { used += Array(repeating: false, count: number - used.count) }
                used[number - 1] = true
            }
        }
        sql = translated
        self.used = used
        self.name = name
        self.store = store
        values = Array(repeating: nil, count: used.count)
        types = used.map { _ in 25 }
    }

    deinit { PQclear(result) }

    // Binding. A binding after a run starts the next run.

    private func set(_ index: Int32, _ value: Value, type: UInt32) {
        if result != nil { clearResult() }
        let i = Int(index) - 1
        guard i >= 0, i < 1000 else { return }
        if i >= values.count {
            values += Array(repeating: nil, count: i + 1 - values.count)
            types += Array(repeating: 25, count: i + 1 - types.count)
        }
        values[i] = value
        types[i] = type
    }

    func bind(_ index: Int32, _ value: Int64) { set(index, .int(value), type: 20) }
    func bind(_ index: Int32, _ value: Int64?) { set(index, value.map { .int($0) } ?? .null, type: 20) }
    func bind(_ index: Int32, _ value: String?) { set(index, value.map { .text($0) } ?? .null, type: 25) }
    func bind(_ index: Int32, blob: [UInt8]) { set(index, .blob(blob), type: 17) }

    func reset() {
        clearResult()
        for i in values.indices { values[i] = nil }
    }

    private func clearResult() {
        PQclear(result)
        result = nil
        row = -1
        decodedBlob = nil
    }

    func next() throws(LedgerError) -> Bool {
        if result == nil {
            do throws(PostgresError) { try run() } catch { throw store.failed(error) }
            row = -1
        }
        guard let result else { return false }
        row += 1
        if row < PQntuples(result) {
            decodedBlob = nil
            return true
        }
        clearResult()
        return false
    }

    func execute() throws(LedgerError) {
        defer { reset() }
        do throws(PostgresError) { try run() } catch { throw store.failed(error) }
    }

    private func run() throws(PostgresError) {
        let connection = store.connection
        guard let conn = connection.raw else { throw connection.lostError() }
        if preparedOn != connection.generation {
            let prepared = types.withUnsafeBufferPointer { oids in
                PQprepare(conn, name, sql, Int32(oids.count), oids.baseAddress)
            }
            defer { PQclear(prepared) }
            try connection.check(prepared)
            preparedOn = connection.generation
        }
        // Every value's bytes in one buffer (text NUL-terminated), then pointers into it.
        var storage: [UInt8] = []
        var spans: [(offset: Int, length: Int32)?] = []
        var formats: [Int32] = []
        for value in values {
            switch value ?? .null {
            case .null:
                spans.append(nil); formats.append(0)
            case .int(let n):
                spans.append((storage.count, 0)); storage.append(contentsOf: String(n).utf8); storage.append(0); formats.append(0)
            case .text(let s):
                spans.append((storage.count, 0)); storage.append(contentsOf: s.utf8); storage.append(0); formats.append(0)
            case .blob(let b):
                spans.append((storage.count, Int32(clamping: b.count))); storage.append(contentsOf: b); formats.append(1)
            }
        }
        storage.append(0)  // never empty: a base address exists
        let executed: OpaquePointer? = storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
            let pointers: [UnsafePointer<CChar>?] = spans.map { span in span.flatMap { s in base.map { $0 + s.offset } } }
            let lengths = spans.map { $0?.length ?? 0 }
            return PQexecPrepared(conn, name, Int32(pointers.count), pointers, lengths, formats, 0)
        }
        do throws(PostgresError) {
            try connection.check(executed)
        } catch {
            PQclear(executed)
            throw error
        }
        result = executed
    }

    // Reading the current row.

    private var onRow: Bool {
        guard let result else { return false }
        return row >= 0 && row < PQntuples(result)
    }

    func isNull(_ column: Int32) -> Bool {
        guard onRow, column >= 0, column < PQnfields(result) else { return true }
        return PQgetisnull(result, row, column) == 1
    }

    func int(_ column: Int32) -> Int64 {
        guard !isNull(column), let text = PQgetvalue(result, row, column) else { return 0 }
        // Decimal text ("-12", or "12" for a numeric sum); wrapping, as a damaged store must not trap.
        var value: Int64 = 0
        var p = text
        let negative = p.pointee == CChar(UInt8(ascii: "-"))
        if negative { p += 1 }
        while p.pointee >= CChar(UInt8(ascii: "0")) && p.pointee <= CChar(UInt8(ascii: "9")) {
            value = value &* 10 &+ Int64(p.pointee - CChar(UInt8(ascii: "0")))
            p += 1
        }
        return negative ? 0 &- value : value
    }

    func text(_ column: Int32) -> String? {
        guard !isNull(column), let text = PQgetvalue(result, row, column) else { return nil }
        let count = Int(PQgetlength(result, row, column))
        return text.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
    }

    /// bytea comes as text in hex ("\x0a1b..."): decoded once per row and column.
    func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        if let decodedBlob, decodedBlob.column == column {
            return decodedBlob.bytes.withUnsafeBytes(body)
        }
        var bytes: [UInt8] = []
        if !isNull(column), let text = PQgetvalue(result, row, column) {
            let count = Int(PQgetlength(result, row, column))
            text.withMemoryRebound(to: UInt8.self, capacity: count) { p in
                guard count >= 2, p[0] == UInt8(ascii: "\\"), p[1] == UInt8(ascii: "x") else { return }
                bytes.reserveCapacity((count - 2) / 2)
                var i = 2
                while i + 1 < count {
                    guard let high = Self.hexValue(p[i]), let low = Self.hexValue(p[i + 1]) else { bytes = [0xFF]; return }
                    bytes.append(high << 4 | low)
                    i += 2
                }
            }
        }
        decodedBlob = (column, bytes)
        return bytes.withUnsafeBytes(body)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
