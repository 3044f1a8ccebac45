// The usage ledger (the library's Ledger: SQLite under the data directory, or PostgreSQL shared by every
// instance when `ledger` is a postgresql:// URL), owned by one thread: a Ledger
// is used from one thread at a time, and a durable write (fsync) must not hold up an event loop. Calls
// hand their record over at hang-up and wait for the answer off the loop.

import Dispatch
import FormiCore
import Foundation
import Logging

final class LedgerWriter: @unchecked Sendable {
    enum Failure: Error { case ledger(String) }

    private let queue = DispatchQueue(label: "formi.ledger")
    private let ledger: Ledger
    private let metrics: ServerMetrics
    private let logger: Logger
    /// The file, or the URL without its password.
    let path: String
    private let shared: Bool

    /// `location`: a postgresql:// URL or a file; empty: DATA_DIR/usage.db.
    init(location: String = "", dataDir: String, metrics: ServerMetrics, logger: Logger) throws {
        shared = Ledger.isPostgresURL(location)
        let target: String
        if location.isEmpty {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            target = (dataDir as NSString).appendingPathComponent("usage.db")
        } else {
            target = location
        }
        path = Ledger.redacted(target)
        do throws(LedgerError) {
            ledger = try Ledger(location: target)
        } catch {
            throw Failure.ledger(error.message)
        }
        self.metrics = metrics
        self.logger = logger
    }

    /// The configured outlets' rate cards and agents' starting credits. Idempotency keys made from the
    /// values: a restart with the same configuration changes nothing (balances are not reset), a new
    /// amount in the file is applied once.
    func provision(_ config: ServerConfig) throws {
        for outlet in config.outlets {
            if let card = outlet.rateCard {
                let cardJSON = try Self.json(card.foundation)
                try credit(["op": "rate_card", "idempotency_key": "config:rate_card:\(outlet.outletId):\(Self.digest(cardJSON))",
                            "outlet_id": String(outlet.outletId), "rate_card": card.foundation])
            }
            if let credits = outlet.credits {
                for agent in config.agents {
                    try credit(["op": "set", "idempotency_key": "config:credits:\(outlet.outletId):\(agent.agentId):\(credits)",
                                "outlet_id": String(outlet.outletId), "agent_id": String(agent.agentId), "amount": credits])
                }
            }
        }
    }

    private func credit(_ op: [String: Any]) throws {
        _ = try credit(try Self.json(op))
    }

    /// One credit operation (JSON text); the ledger's answer. Blocks: call it off the event loops.
    func credit(_ json: String) throws -> [UInt8] {
        let bytes = Array(json.utf8)
        return try queue.sync {
            do throws(LedgerError) {
                return try ledger.credit(json: bytes)
            } catch {
                throw Failure.ledger(error.message)
            }
        }
    }

    /// Writes one finished call; the ledger's answer (cost, balance, events) or the failure.
    func record(_ record: [String: Any]) async -> Result<[String: Any], Failure> {
        let bytes: [UInt8]
        do { bytes = Array(try Self.json(record).utf8) } catch { return .failure(.ledger("the record is not JSON: \(error)")) }
        return await withCheckedContinuation { continuation in
            queue.async {
                let started = ContinuousClock.now
                let result: Result<[String: Any], Failure>
                do throws(LedgerError) {
                    let answer = try self.recordRetryingOnce(bytes)
                    let parsed = (try? JSONSerialization.jsonObject(with: Data(answer))) as? [String: Any] ?? [:]
                    result = .success(parsed)
                } catch {
                    self.metrics.errors(kind: "ledger").increment()
                    result = .failure(.ledger(error.message))
                }
                self.metrics.ledgerWriteSeconds.record(ContinuousClock.now - started)
                continuation.resume(returning: result)
            }
        }
    }

    /// On PostgreSQL a storage failure may be a connection lost (a server restart): the ledger reconnects
    /// on the next call, and the record's idempotency key makes a second try safe.
    private func recordRetryingOnce(_ bytes: [UInt8]) throws(LedgerError) -> [UInt8] {
        do throws(LedgerError) {
            return try ledger.record(json: bytes)
        } catch {
            guard shared, case .storage(let message) = error else { throw error }
            logger.warning("ledger write failed, trying once more", metadata: ["error": "\(message)"])
            usleep(200_000)
            return try ledger.record(json: bytes)
        }
    }

    /// A query (docs/ledger.md), for the tests and operators.
    func query(_ json: [UInt8]) -> Result<[UInt8], Failure> {
        queue.sync {
            do throws(LedgerError) {
                return .success(try ledger.query(json: json))
            } catch {
                return .failure(.ledger(error.message))
            }
        }
    }

    /// Waits for the writes handed over so far.
    func flush() { queue.sync {} }

    static func json(_ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// FNV-1a of a text, for idempotency keys made from configuration values.
    static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }
}
