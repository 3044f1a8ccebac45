// What /metrics shows (Prometheus text, swift-prometheus). Metrics with labels are made on first use
// and kept: the label sets are small (providers, outcomes, error kinds).

import Foundation
import Prometheus
import Synchronization

final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    let frameSeconds: DurationHistogram
    let ledgerWriteSeconds: DurationHistogram
    let ttsSeconds: DurationHistogram
    let bargeIns: Prometheus.Counter
    let ttsFallbacks: Prometheus.Counter
    let drops: Prometheus.Counter
    private let made = Mutex<[String: AnyObject]>([:])

    init() {
        let frameBuckets: [Duration] = [.microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
                                        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(3),
                                        .milliseconds(4), .milliseconds(5), .milliseconds(7), .milliseconds(10),
                                        .milliseconds(25), .milliseconds(50), .milliseconds(100)]
        frameSeconds = registry.makeDurationHistogram(
            name: "formi_frame_processing_seconds", buckets: frameBuckets,
            help: "From a provider frame's arrival to the end of its processing (queueing, session, agent, and the messages it caused)")
        ledgerWriteSeconds = registry.makeDurationHistogram(
            name: "formi_ledger_write_seconds",
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)],
            help: "Time to write one call to the ledger (durable)")
        ttsSeconds = registry.makeDurationHistogram(
            name: "formi_tts_seconds",
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                      .milliseconds(25), .milliseconds(100)],
            help: "espeak-ng synthesis and resampling of one prompt (cache misses)")
        bargeIns = registry.makeCounter(name: "formi_barge_ins_total", help: "Caller speech or keys that interrupted the agent")
        ttsFallbacks = registry.makeCounter(name: "formi_tts_fallbacks_total", help: "Prompts played as tones because synthesis failed")
        drops = registry.makeCounter(name: "formi_frames_dropped_total", help: "Frames dropped because a call fell too far behind")
    }

    private func metric<T: AnyObject>(_ key: String, _ make: () -> T) -> T {
        made.withLock { table in
            if let found = table[key] as? T { return found }
            let new = make()
            table[key] = new
            return new
        }
    }

    func activeCalls(provider: String) -> Gauge {
        metric("active|\(provider)") { registry.makeGauge(name: "formi_calls_active", labels: [("provider", provider)], help: "Calls in progress") }
    }

    func calls(provider: String, outcome: String) -> Prometheus.Counter {
        metric("calls|\(provider)|\(outcome)") {
            registry.makeCounter(name: "formi_calls_total", labels: [("provider", provider), ("outcome", outcome)], help: "Finished calls by outcome")
        }
    }

    func refused(reason: String) -> Prometheus.Counter {
        metric("refused|\(reason)") { registry.makeCounter(name: "formi_calls_refused_total", labels: [("reason", reason)], help: "Calls refused before they started") }
    }

    func framesIn(provider: String) -> Prometheus.Counter {
        metric("fin|\(provider)") { registry.makeCounter(name: "formi_frames_in_total", labels: [("provider", provider)], help: "Messages received from providers") }
    }

    func framesOut(provider: String) -> Prometheus.Counter {
        metric("fout|\(provider)") { registry.makeCounter(name: "formi_frames_out_total", labels: [("provider", provider)], help: "Messages sent to providers") }
    }

    func bytesIn(provider: String) -> Prometheus.Counter {
        metric("bin|\(provider)") { registry.makeCounter(name: "formi_bytes_in_total", labels: [("provider", provider)], help: "Bytes received from providers") }
    }

    func bytesOut(provider: String) -> Prometheus.Counter {
        metric("bout|\(provider)") { registry.makeCounter(name: "formi_bytes_out_total", labels: [("provider", provider)], help: "Bytes sent to providers") }
    }

    func errors(kind: String) -> Prometheus.Counter {
        metric("err|\(kind)") { registry.makeCounter(name: "formi_errors_total", labels: [("kind", kind)], help: "Errors by kind: protocol, transport, tts, ledger, agent, overload") }
    }

    func text() -> [UInt8] { registry.emitToBuffer() }
}
