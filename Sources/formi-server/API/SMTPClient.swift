// A minimal SMTP client (RFC 5321) for the e-mail destinations: EHLO, AUTH PLAIN when a user is set,
// MAIL, RCPT, DATA with dot-stuffing, QUIT, over a plain TCP connection with timeouts. Blocking: it
// runs on a GCD thread, never an event loop. Written by hand because no SMTP library is at hand here;
// STARTTLS and implicit TLS are not supported (a relay on the same host or network is assumed).

import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct SMTPError: Error, CustomStringConvertible {
    var description: String
}

enum SMTPClient {
    struct Message: Sendable {
        var from: String
        var to: [String]
        var subject: String
        var body: String
    }

    static let addressPattern = #"^[^@\s<>()",;:\\]{1,64}@[A-Za-z0-9.-]{1,253}$"#

    /// Sends off the caller's thread.
    static func send(_ message: Message, host: String, port: Int, username: String?, password: String?) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try sendBlocking(message, host: host, port: port, username: username, password: password) })
            }
        }
    }

    private static func sendBlocking(_ message: Message, host: String, port: Int, username: String?, password: String?) throws {
        let fd = try connect(host: host, port: port)
        defer { close(fd) }
        var reader = LineReader(fd: fd)
        try expect(&reader, 220)
        try command(fd, &reader, "EHLO formi-server", 250)
        if let username, let password {
            let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
            try command(fd, &reader, "AUTH PLAIN \(token)", 235)
        }
        try command(fd, &reader, "MAIL FROM:<\(message.from)>", 250)
        for recipient in message.to { try command(fd, &reader, "RCPT TO:<\(recipient)>", 250) }
        try command(fd, &reader, "DATA", 354)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        var lines = ["From: <\(message.from)>", "To: " + message.to.map { "<\($0)>" }.joined(separator: ", "),
                     "Subject: \(message.subject)", "Date: \(formatter.string(from: Date()))",
                     "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", ""]
        lines += message.body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }
        try write(fd, lines.joined(separator: "\r\n") + "\r\n.\r\n")
        try expect(&reader, 250)
        try? command(fd, &reader, "QUIT", 221)
    }

    private static func command(_ fd: Int32, _ reader: inout LineReader, _ line: String, _ code: Int) throws {
        try write(fd, line + "\r\n")
        try expect(&reader, code)
    }

    /// Reads a reply (its continuation lines too); throws unless its code is `code`.
    private static func expect(_ reader: inout LineReader, _ code: Int) throws {
        while true {
            let line = try reader.line()
            guard line.count >= 3, let got = Int(line.prefix(3)) else { throw SMTPError(description: "not an SMTP reply: \(line.prefix(80))") }
            if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
            guard got == code else { throw SMTPError(description: "the server answered \(line.prefix(200))") }
            return
        }
    }

    private static func write(_ fd: Int32, _ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw SMTPError(description: "the connection failed while writing") }
            bytes = bytes.dropFirst(sent)
        }
    }

    private static func connect(host: String, port: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw SMTPError(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd >= 0 {
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
                close(fd)
            }
            entry = info.pointee.ai_next
        }
        throw SMTPError(description: "cannot connect to \(host):\(port)")
    }

    /// CRLF-terminated lines from a socket, each at most 4 KiB.
    private struct LineReader {
        let fd: Int32
        var buffer: [UInt8] = []

        mutating func line() throws -> String {
            while true {
                if let end = buffer.firstIndex(of: 0x0A) {
                    let line = buffer[..<end].filter { $0 != 0x0D }
                    buffer.removeSubrange(...end)
                    return String(decoding: line, as: UTF8.self)
                }
                guard buffer.count < 4096 else { throw SMTPError(description: "a reply line is too long") }
                var chunk = [UInt8](repeating: 0, count: 1024)
                let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard got > 0 else { throw SMTPError(description: "the server closed the connection or timed out") }
                buffer += chunk[..<got]
            }
        }
    }
}
