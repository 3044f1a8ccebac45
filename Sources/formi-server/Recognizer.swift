// The demo agent's ears: pocketsphinx (Debian's 0.8+5prealpha, US English model), linked as a system
// library, decoding each caller turn against the grammar of what the flow's current state can accept
// (SpeechGrammar). Facts from ../shared/reference/speech.md: a grammar got 92-95 of 96 telephone phrases
// right where keyword spotting was unusable; the model takes 16 kHz only (the calls' local rate, reached
// through the library's transcoder); a small dictionary of the grammars' words beats the full one and
// loads in 10 ms instead of 130; creating, configuring or freeing decoders concurrently crashes, so all
// of that is under one lock, while decoding in parallel on separate decoders is safe.
//
// Memory stays flat in the number of calls: a pool of decoders (one per core, each with its own serial
// queue, off the event loops) holds every state's grammar as a named search; a call borrows one for the
// ~10 ms a turn takes to decode.

import CPocketSphinx
import Dispatch
import FormiCore
import Foundation
import Logging
import Synchronization

/// What the recogniser made of one caller turn.
struct Recognition: Sendable {
    /// The grammar phrase decoded, "" when nothing was.
    var text: String
    /// The path score per 10 ms frame (pocketsphinx's log domain): closer to 0 is a better match.
    var scorePerFrame: Double
    /// The score mapped onto 0...1 (see `Recognizer.confidence`).
    var confidence: Double
    /// False: a guess below the rejection threshold (likely out-of-grammar speech).
    var accepted: Bool
    var audioSeconds: Double
    var decodeSeconds: Double
}

final class Recognizer: @unchecked Sendable {
    static let modelDirectory = "/usr/share/pocketsphinx/model/en-us/en-us"
    static let fullDictionary = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
    static let rate = 16000
    /// A guess scoring below this per frame is rejected (see bench/speech_recognition.py for the trade-off).
    static let defaultRejectBelow = -30.0
    /// The longest turn decoded (longer speech is cut: bounded memory and time per turn).
    static let maxTurnSeconds = 12

    /// ps_init, search set-up and ps_free of any decoder, in any thread: one at a time.
    private static let setupLock = NSLock()

    private let logger: Logger
    /// Words no grammar can use (not in the dictionary), reported once at start.
    let unknownWords: [String]
    let rejectBelow: Double
    private let decoders: [Decoder]
    private let next = Atomic<Int>(0)

    /// Starts with the words of `phrases` (every phrase any flow can hear); nil when the model or the
    /// dictionary is missing, or no decoder starts.
    init?(phrases: [String], rejectBelow: Double = Recognizer.defaultRejectBelow, decoders count: Int = ProcessInfo.processInfo.activeProcessorCount,
          logger: Logger) {
        self.logger = logger
        self.rejectBelow = rejectBelow
        guard FileManager.default.fileExists(atPath: Self.modelDirectory),
              let full = try? String(contentsOfFile: Self.fullDictionary, encoding: .utf8) else {
            logger.error("pocketsphinx's en-us model is missing (apt-get install pocketsphinx-en-us): speech is not recognised")
            return nil
        }
        var wanted = Set(phrases.flatMap { $0.split(separator: " ").map(String.init) })
        // cmudict lines: "word PH ON ES" and alternates "word(2) PH ON ES".
        var lines: [String] = []
        var found = Set<String>()
        for line in full.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            var word = line[..<space]
            if let paren = word.firstIndex(of: "(") { word = word[..<paren] }
            if wanted.contains(String(word)) {
                lines.append(String(line))
                found.insert(String(word))
            }
        }
        // Non-rhotic callers (en-gb and some others) say "four" without its R: the one miss that speech.md
        // found in nearly every grammar error.
        if wanted.contains("four") { lines.append("four(9) F AO") }
        wanted.subtract(found)
        unknownWords = wanted.sorted()
        if !unknownWords.isEmpty {
            logger.warning("words no grammar can hear (not in the dictionary): \(unknownWords.joined(separator: ", "))")
        }
        if lines.isEmpty { lines.append("yes Y EH S") }  // a decoder needs a dictionary; no grammar uses it
        let path = NSTemporaryDirectory() + "formi-grammar-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).dict"
        guard FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8)) else {
            logger.error("cannot write the recogniser's dictionary to \(path): speech is not recognised")
            return nil
        }
        err_set_logfp(nil)  // pocketsphinx logs a page per decoder to stderr otherwise
        var made: [Decoder] = []
        for i in 0..<max(1, count) {
            guard let d = Decoder(index: i, dictionary: path) else { break }
            made.append(d)
        }
        decoders = made
        // Every decoder has read it (ps_init loads the dictionary): nothing is left behind in /tmp.
        try? FileManager.default.removeItem(atPath: path)
        guard !made.isEmpty else {
            logger.error("pocketsphinx did not start: speech is not recognised")
            return nil
        }
        logger.info("pocketsphinx ready", metadata: ["decoders": "\(made.count)", "words": "\(found.count)"])
    }

    deinit {
        for d in decoders { d.release() }
    }

    /// The recogniser for `flows` (nil when none names a phrase, or pocketsphinx cannot start): its
    /// dictionary holds the words of their phrases.
    static func start(flows: [String: CompiledFlow], logger: Logger) -> Recognizer? {
        let phrases = flows.sorted { $0.key < $1.key }.flatMap { SpeechGrammar.allPhrases($0.value) }
        guard !phrases.isEmpty else { return nil }
        return Recognizer(phrases: phrases, logger: logger)
    }

    /// A flow's grammars by state, only phrases the dictionary can spell. Per call, from the flow the
    /// call runs: flows created through the platform API (named by agent) are heard too.
    func grammars(for flow: CompiledFlow) -> [Int64: SpeechGrammar] {
        SpeechGrammar.perState(flow).compactMapValues { hearable($0) }
    }

    /// Phrases whose every word the dictionary has.
    func hearable(_ grammar: SpeechGrammar) -> SpeechGrammar? {
        let phrases = grammar.phrases.filter { !$0.split(separator: " ").contains { unknownWords.contains(String($0)) } }
        return phrases.isEmpty ? nil : SpeechGrammar(phrases: phrases)
    }

    /// Decodes one turn (16 kHz PCM16) against `grammar`, off the caller's thread.
    func recognize(_ samples: [Int16], grammar: SpeechGrammar) async -> Recognition? {
        let decoder = decoders[next.wrappingAdd(1, ordering: .relaxed).oldValue % decoders.count]
        let rejectBelow = self.rejectBelow
        return await withCheckedContinuation { continuation in
            decoder.queue.async {
                continuation.resume(returning: decoder.decode(samples, grammar: grammar, rejectBelow: rejectBelow))
            }
        }
    }

    /// Blocking, for the command-line measurement (`formi-server --recognize`).
    func recognizeNow(_ samples: [Int16], grammar: SpeechGrammar) -> Recognition? {
        let decoder = decoders[0]
        return decoder.queue.sync { decoder.decode(samples, grammar: grammar, rejectBelow: rejectBelow) }
    }

    /// Score per frame -> 0...1: -15 (a clean match) and above is 1, -45 (beyond the worst accepted
    /// guess measured) and below is 0, linear between. A ranking aid for flows, not a probability.
    static func confidence(scorePerFrame: Double) -> Double {
        min(1, max(0, (scorePerFrame + 45) / 30))
    }

    /// One pocketsphinx decoder and the queue that serialises its use.
    private final class Decoder: @unchecked Sendable {
        let queue: DispatchQueue
        private var ps: OpaquePointer?
        /// JSGF text -> search name, for the grammars this decoder has loaded.
        private var searches: [String: String] = [:]
        private var current: String?

        init?(index: Int, dictionary: String) {
            queue = DispatchQueue(label: "formi.recognizer.\(index)")
            let args = ["formi", "-hmm", Recognizer.modelDirectory, "-dict", dictionary, "-logfn", "/dev/null"]
            var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
            defer { for p in argv { free(p) } }
            Recognizer.setupLock.lock()
            defer { Recognizer.setupLock.unlock() }
            guard let config = argv.withUnsafeMutableBufferPointer({ cmd_ln_parse_r(nil, ps_args(), Int32($0.count - 1), $0.baseAddress! + 1, 0) }) else { return nil }
            ps = ps_init(config)
            _ = cmd_ln_free_r(config)
            if ps == nil { return nil }
        }

        func release() {
            Recognizer.setupLock.lock()
            defer { Recognizer.setupLock.unlock() }
            if let ps { _ = ps_free(ps) }
            ps = nil
        }

        /// On `queue` only.
        func decode(_ samples: [Int16], grammar: SpeechGrammar, rejectBelow: Double) -> Recognition? {
            guard let ps, !grammar.phrases.isEmpty else { return nil }
            let started = ContinuousClock.now
            let jsgf = grammar.jsgf
            let ready: Bool = {
                Recognizer.setupLock.lock()
                defer { Recognizer.setupLock.unlock() }
                let name: String
                if let known = searches[jsgf] {
                    name = known
                } else {
                    name = "g\(searches.count)"
                    guard ps_set_jsgf_string(ps, name, jsgf) == 0 else { return false }
                    searches[jsgf] = name
                    current = nil
                }
                if current != name {
                    guard ps_set_search(ps, name) == 0 else { return false }
                    current = name
                }
                return true
            }()
            guard ready, ps_start_utt(ps) == 0 else { return nil }
            let limit = min(samples.count, Recognizer.maxTurnSeconds * Recognizer.rate)
            samples.withUnsafeBufferPointer { buffer in
                // 20 ms at a time, as speech.md measured it (the whole turn at once, full_utt, did worse:
                // 70% right instead of 73% in bench/speech_recognition.py).
                var at = 0
                while at < limit {
                    let n = min(320, limit - at)
                    _ = ps_process_raw(ps, buffer.baseAddress! + at, n, 0, 0)
                    at += n
                }
            }
            _ = ps_end_utt(ps)
            var score: Int32 = 0
            let hyp = ps_get_hyp(ps, &score).map { String(cString: $0) } ?? ""
            let frames = max(1, Int(ps_get_n_frames(ps)))
            let perFrame = Double(score) / Double(frames)
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return Recognition(text: hyp, scorePerFrame: perFrame, confidence: hyp.isEmpty ? 0 : Recognizer.confidence(scorePerFrame: perFrame),
                               accepted: !hyp.isEmpty && perFrame >= rejectBelow,
                               audioSeconds: Double(limit) / Double(Recognizer.rate), decodeSeconds: seconds)
        }
    }
}
