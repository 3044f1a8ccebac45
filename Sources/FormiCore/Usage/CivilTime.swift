// Calendar arithmetic on the proleptic Gregorian calendar, with no time zone database: the ledger
// stores UTC milliseconds and applies a caller's fixed UTC offset when it cuts days and hours.

public enum CivilTime {
    public static let msPerDay: Int64 = 86_400_000
    public static let msPerHour: Int64 = 3_600_000
    public static let msPerQuarter: Int64 = 900_000

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count (civil_from_days).
    static func date(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day)
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Floor division, for times before 1970 as well.
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    // MARK: parsing

    /// `dd/mm/yyyy` (the seed's form) or `yyyy-mm-dd`: days since 1970-01-01.
    static func parseDate(_ text: String, field: String) throws(LedgerError) -> Int64 {
        let b = Array(text.utf8)
        var scanner = DigitScanner(bytes: b)
        let year, month, day: Int64
        if b.count == 10, b[2] == UInt8(ascii: "/"), b[5] == UInt8(ascii: "/") {
            day = scanner.number(at: 0, digits: 2); month = scanner.number(at: 3, digits: 2); year = scanner.number(at: 6, digits: 4)
        } else if b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") {
            year = scanner.number(at: 0, digits: 4); month = scanner.number(at: 5, digits: 2); day = scanner.number(at: 8, digits: 2)
        } else {
            throw .invalid("\(field) must be a date as dd/mm/yyyy or yyyy-mm-dd, found \"\(text)\"")
        }
        guard scanner.ok, year >= 1, (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month) else {
            throw .invalid("\(field) is not a valid date: \"\(text)\"")
        }
        return days(year: year, month: month, day: day)
    }

    /// An ISO 8601 instant with a zone (`2024-03-20T12:00:00Z`, `...T17:30:00.250+05:30`): Unix ms.
    /// Fractions finer than a millisecond round half away from zero.
    static func parseInstant(_ text: String, field: String) throws(LedgerError) -> Int64 {
        let b = Array(text.utf8)
        var s = DigitScanner(bytes: b)
        let bad = LedgerError.invalid("\(field) must be an ISO 8601 time with a zone (e.g. 2024-03-20T12:00:00Z), found \"\(text)\"")
        guard b.count >= 17, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              b[13] == UInt8(ascii: ":") else { throw bad }
        let year = s.number(at: 0, digits: 4), month = s.number(at: 5, digits: 2), day = s.number(at: 8, digits: 2)
        let hour = s.number(at: 11, digits: 2), minute = s.number(at: 14, digits: 2)
        var i = 16
        var second: Int64 = 0
        var millis: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ":") {
            second = s.number(at: i + 1, digits: 2)
            i += 3
            if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                i += 1
                var digits = 0
                var roundUp = false
                while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                    let d = Int64(b[i] - UInt8(ascii: "0"))
                    if digits < 3 { millis = millis * 10 + d } else if digits == 3 { roundUp = d >= 5 }
                    digits += 1; i += 1
                }
                guard digits >= 1, digits <= 9 else { throw bad }
                var scale = digits
                while scale < 3 { millis *= 10; scale += 1 }
                if roundUp { millis += 1 }
            }
        }
        guard s.ok, i < b.count else { throw bad }
        var offsetSeconds: Int64 = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            let oh = s.number(at: i + 1, digits: 2)
            var j = i + 3
            if j < b.count, b[j] == UInt8(ascii: ":") { j += 1 }
            let om = s.number(at: j, digits: 2)
            guard oh <= 23, om <= 59 else { throw bad }
            offsetSeconds = sign * (oh * 3600 + om * 60)
            i = j + 2
        default:
            throw bad
        }
        guard s.ok, i == b.count, year >= 1, (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 60 else { throw bad }
        let seconds = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * 1000 + millis
    }

    /// A time field: an ISO 8601 string or a number of Unix seconds (kept to the millisecond).
    static func parseTime(_ value: JSONTree, field: String) throws(LedgerError) -> Int64 {
        let limit: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z
        switch value {
        case .string(let text):
            return try parseInstant(text, field: field)
        case .integer(let seconds):
            guard (-limit...limit).contains(seconds) else { throw .invalid("\(field) is out of range") }
            return seconds * 1000
        case .number(let seconds):
            guard seconds.isFinite, abs(seconds) <= Double(limit) else { throw .invalid("\(field) is out of range") }
            return Int64((seconds * 1000).rounded(.toNearestOrAwayFromZero))
        default:
            throw .invalid("\(field) must be an ISO 8601 string or a number of Unix seconds, found \(value.kindName)")
        }
    }

    // MARK: formatting

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// `yyyy-mm-dd`.
    static func isoDate(days: Int64) -> String {
        let d = date(days: days)
        return "\(pad(d.year, 4))-\(pad(d.month, 2))-\(pad(d.day, 2))"
    }

    /// `2024-03-20T12:00:00.000Z`. Total over Int64 (times read back from a damaged store included):
    /// the wrapping operations give the exact remainder, which always fits.
    static func isoInstant(ms: Int64) -> String {
        let day = floorDiv(ms, msPerDay)
        let inDay = ms &- day &* msPerDay
        return "\(isoDate(days: day))T\(pad(inDay / 3_600_000, 2)):\(pad(inDay / 60_000 % 60, 2)):\(pad(inDay / 1000 % 60, 2)).\(pad(inDay % 1000, 3))Z"
    }
}

/// Reads fixed-width decimal fields; `ok` turns false at the first non-digit or out-of-bounds read.
private struct DigitScanner {
    let bytes: [UInt8]
    var ok = true

    mutating func number(at start: Int, digits: Int) -> Int64 {
        var value: Int64 = 0
        guard start >= 0, start + digits <= bytes.count else { ok = false; return 0 }
        for byte in bytes[start..<(start + digits)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { ok = false; return 0 }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
