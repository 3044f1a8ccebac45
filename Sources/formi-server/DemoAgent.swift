// The built-in demo agent: deterministic, offline, and still a real conversation. The flow engine runs
// the agent's flow; what each state says (its `say` entry actions and its rendered prompt) is spoken
// by espeak-ng; DTMF and words drive the transitions: the WebRTC VAD finds the caller's turns and
// pocketsphinx decodes each against the phrases the current state's edges name (Recognizer.swift), so
// the flow gets `{"type":"speech","text":...,"confidence":...}` (text "" and a `guess` when the score
// says the caller likely said something else; a "user" event with no text where nothing can be
// recognised); speech or a key while the agent talks is a barge-in. The call handler owns the session; the agent
// only sees what the caller did and answers with commands.

import FormiCore
import Logging

/// What the agent asks of the call handler.
enum AgentCommand {
    /// Send this audio (16 kHz PCM16) as one utterance and mark its end with `mark`.
    case speak(mark: String, samples: [Int16])
    /// End the call (after what was said has been heard).
    case hangUp(reason: String)
}

/// The call handler, as the agent sees it: barge-in must happen at once, before the flow hears of the
/// caller's turn, so it is a call, not a command.
protocol AgentHost: AnyObject {
    /// Stops the agent's audio (the session's interrupt: the provider's clear); how much of the
    /// utterance the caller heard, in ms.
    func interruptPlayback() -> Int64
    /// Queues agent audio (the session's local format) for the caller; false, queuing nothing, when the
    /// session's queue is at its cap (the agent must wait).
    func sendAgentAudio(_ samples: [Int16]) -> Bool
    /// Marks the end of what was sent so far (its last partial frame goes out padded); the mark comes
    /// back to the agent when the caller has heard it.
    func sendAgentMark(_ name: String)
}

/// How the call ended, for the ledger.
struct AgentSummary {
    var outcome = "abandoned"
    var escalationReason: String?
    var path: [Int64] = []
    var turns = 0
    var digits = 0
    var bargeIns = 0
    var utterances = 0
    var characters = 0
    var spokenMs = 0
    var fallbacks = 0
    /// Caller turns decoded: accepted, and rejected by score; seconds of audio decoded.
    var recognised = 0
    var rejected = 0
    var recognisedSeconds = 0.0
    var endReason: String?
}

final class DemoAgent {
    let agent: ServerConfig.Agent
    private let speech: Speech
    private let logger: Logger
    private var run: FlowRun?
    private let vad: TurnDetector?
    private let recognizer: Recognizer?
    /// State id -> what the recogniser listens for there.
    private let grammars: [Int64: SpeechGrammar]
    private var turnAudio = TurnAudio()
    /// The utterance being spoken (its mark not yet back), if any, and its audio.
    private var speaking: String?
    private var speakingSamples: [Int16] = []
    private var counter = 0
    /// Hang up with this reason once the current utterance has been heard.
    private var hangUpAfterSpeech: String?
    /// Entry actions were spoken: tell the flow once they have been heard.
    private var actionsPending = false
    private var lastTick: Int64 = 0
    private(set) var summary = AgentSummary()
    /// The flow's variables now (at the end: what the platform API's post-interaction variables read).
    var flowVariables: [JSONMember] { run?.variables ?? [] }
    /// The handler of the call's current connection (it changes on a reconnect).
    weak var host: AgentHost?
    /// The flow's clock: the call's, across reconnects (each connection's handler counts from its own start).
    private let origin = ContinuousClock.now
    private var flowMs: Int64 {
        let elapsed = ContinuousClock.now - origin
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    static let apology = "Sorry, something went wrong on our side. Please call again later. Goodbye."
    static let keypadOnly = "Sorry, this line understands the keypad only."
    static let notUnderstood = "Sorry, I did not catch that."

    /// `inputs`: more flow inputs (the platform API's pre-interaction context).
    init(agent: ServerConfig.Agent, flow: CompiledFlow, outletName: String, speech: Speech, logger: Logger,
         recognizer: Recognizer? = nil, grammars: [Int64: SpeechGrammar] = [:], inputs: [JSONMember] = []) {
        self.agent = agent
        self.speech = speech
        self.logger = logger
        self.recognizer = recognizer
        self.grammars = recognizer == nil ? [:] : grammars
        vad = TurnDetector()
        do throws(FlowError) {
            run = try FlowRun(flow: flow, inputs: [JSONMember(key: "outlet", value: .string(outletName))] + inputs)
        } catch {
            logger.error("the flow cannot start: \(error.message)")
            run = nil
        }
    }

    var isSpeaking: Bool { speaking != nil }
    /// The flow ended (or the agent failed): the call ends once the last words are heard.
    var isEnding: Bool { hangUpAfterSpeech != nil }

    /// The call started: the initial state's entry actions and prompt.
    func start() async -> [AgentCommand] {
        guard let run else { return await fail("the flow could not start") }
        if vad == nil { logger.warning("the WebRTC VAD could not start: caller speech is not detected") }
        summary.path.append(run.state.id)
        let texts = run.pendingActions.compactMap { say($0.action) } + [run.prompt.text]
        actionsPending = !run.pendingActions.isEmpty
        if let ended = run.ended { noteEnd(ended, actions: run.pendingActions) }
        return await speak(texts.filter { !$0.isEmpty }.joined(separator: " "))
    }

    /// Caller audio (16 kHz PCM16): barge-in and the end of a turn.
    func callerAudio(_ samples: [Int16], now: Int64) async -> [AgentCommand] {
        guard let vad else { return [] }
        var started = false
        var ended: Int?
        turnAudio.append(samples)
        samples.withUnsafeBufferPointer { buffer in
            vad.feed(buffer) { change in
                switch change {
                case .speechStarted: started = true
                case .turnEnded(let ms): ended = ms
                }
            }
        }
        var commands: [AgentCommand] = []
        if started, speaking != nil, hangUpAfterSpeech == nil {
            commands += await bargeIn(now: now)
        }
        if let ended {
            summary.turns += 1
            logger.debug("caller turn ended", metadata: ["speech_ms": "\(ended)"])
            let audio = turnAudio.take()
            commands += await step(await heard(audio, speechMs: ended), userTurn: true)
        }
        if !vad.inTurn { turnAudio.keepPreroll() }
        return commands
    }

    /// The flow's event for a caller turn: what the recogniser made of it against the current state's
    /// phrases, or a "user" event with no text where the state has none (or there is no recogniser).
    private func heard(_ audio: [Int16], speechMs: Int) async -> String {
        let plain = #"{"type":"user","text":"","speech_ms":\#(speechMs),"at_ms":\#(flowMs)}"#
        guard let recognizer, let state = run?.state.id, let grammar = grammars[state],
              let result = await recognizer.recognize(audio, grammar: grammar) else { return plain }
        summary.recognisedSeconds += result.audioSeconds
        if result.accepted { summary.recognised += 1 } else { summary.rejected += 1 }
        logger.info("heard", metadata: ["text": "\(result.text)", "score": "\(result.scorePerFrame)", "accepted": "\(result.accepted)",
                                        "decode_ms": "\(Int(result.decodeSeconds * 1000))"])
        let text = result.accepted ? result.text : ""
        let confidence = (result.confidence * 1000).rounded() / 1000
        var event = #"{"type":"speech","text":"\#(Self.escaped(text))","confidence":\#(confidence),"#
        if !result.accepted, !result.text.isEmpty { event += #""guess":"\#(Self.escaped(result.text))","# }
        return event + #""speech_ms":\#(speechMs),"at_ms":\#(flowMs)}"#
    }

    /// A string for a JSON literal (grammar phrases are plain words; quotes and controls stay safe).
    static func escaped(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// A key: a barge-in if the agent is talking, then a caller turn.
    func digit(_ digit: String, now: Int64) async -> [AgentCommand] {
        guard digit.count == 1, "0123456789*#ABCD".contains(digit) else { return [] }
        summary.digits += 1
        var commands: [AgentCommand] = []
        if speaking != nil, hangUpAfterSpeech == nil {
            commands += await bargeIn(now: now)
        }
        return commands + (await step(#"{"type":"dtmf","digit":"\#(digit)","at_ms":\#(flowMs)}"#, userTurn: true))
    }

    /// The caller talks (or presses a key) over the agent: its audio stops now, and the flow hears how
    /// much of the utterance the caller heard (the session's playback truth), in the state it was said in.
    private func bargeIn(now: Int64) async -> [AgentCommand] {
        summary.bargeIns += 1
        let heard = host?.interruptPlayback() ?? 0
        speaking = nil
        actionsPending = false
        return await step(#"{"type":"interrupted","heard_ms":\#(heard),"at_ms":\#(flowMs)}"#, userTurn: false)
    }

    /// One of the session's mark events: the utterance was heard to the end ("played") or cut.
    func mark(_ name: String, played: Bool, now: Int64) async -> [AgentCommand] {
        guard name == speaking else { return [] }
        speaking = nil
        guard played else { return [] }
        if let reason = hangUpAfterSpeech { return [.hangUp(reason: reason)] }
        if actionsPending, run?.ended == nil {
            actionsPending = false
            return await step(#"{"type":"actions_done","at_ms":\#(flowMs)}"#, userTurn: false)
        }
        return []
    }

    /// The clock, for the states' timeouts (once a second, while the agent is quiet).
    func tick(now: Int64) async -> [AgentCommand] {
        let now = flowMs
        guard now - lastTick >= 1000, speaking == nil, hangUpAfterSpeech == nil, run?.ended == nil else { return [] }
        lastTick = now
        return await step(#"{"type":"tick","at_ms":\#(flowMs)}"#, userTurn: false)
    }

    /// The call moved to a new connection (a reconnect within the grace period): the utterance that was
    /// playing goes on from where the caller stopped hearing it.
    func resume(heardMs: Int64) -> [AgentCommand] {
        guard speaking != nil else {
            if let reason = hangUpAfterSpeech { return [.hangUp(reason: reason)] }
            return []
        }
        let from = min(Int(max(heardMs, 0)) * (Speech.outputRate / 1000), speakingSamples.count)
        let rest = Array(speakingSamples[from...])
        counter += 1
        let mark = "utt-\(counter)"
        speaking = mark
        speakingSamples = rest
        logger.info("resuming the utterance", metadata: ["heard_ms": "\(heardMs)", "rest_ms": "\(rest.count / (Speech.outputRate / 1000))"])
        return [.speak(mark: mark, samples: rest)]
    }

    /// The call ended without the flow ending it.
    func callEnded(reason: String) {
        if summary.endReason == nil { summary.endReason = reason }
    }

    // MARK: the flow

    private func step(_ event: String, userTurn: Bool) async -> [AgentCommand] {
        guard var current = run, current.ended == nil, hangUpAfterSpeech == nil else { return [] }
        let result: FlowRun.Step
        do throws(FlowError) {
            result = try current.step(json: Array(event.utf8))
        } catch {
            run = current
            return await fail("the flow refused \(event): \(error.message)")
        }
        run = current
        guard let transition = result.transition else {
            // A caller turn that moved nothing: say the options again.
            if userTurn, speaking == nil {
                let sorry = grammars[current.state.id] == nil ? Self.keypadOnly : Self.notUnderstood
                return await speak("\(sorry) \(current.prompt.text)")
            }
            return []
        }
        summary.path.append(transition.to)
        logger.info("flow: \(result.stateName)", metadata: [
            "from": "\(transition.from)", "to": "\(transition.to)", "reason": "\(transition.reason.rawValue)",
            "event": "\(result.eventType)",
        ])
        let entry = result.actions.filter { $0.phase == .entry }
        actionsPending = !entry.isEmpty
        let texts = entry.compactMap { say($0.action) } + [result.prompt ?? ""]
        if let ended = result.ended {
            noteEnd(ended, actions: result.actions, transition: transition)
        }
        if speaking != nil { _ = host?.interruptPlayback(); speaking = nil }
        return await speak(texts.filter { !$0.isEmpty }.joined(separator: " "))
    }

    /// The flow ended: how, and what the host does about it.
    private func noteEnd(_ ended: FlowRun.EndReason, actions: [FlowRun.Step.Action], transition: FlowRun.Step.Transition? = nil) {
        let types = actions.compactMap { $0.action["type"]?.string }
        if ended == .transitionLimit {
            summary.outcome = "other"
            summary.escalationReason = "transition limit"
        } else if types.contains("transfer") {
            summary.outcome = "transferred"
            let to = actions.first { $0.action["type"]?.string == "transfer" }?.action["to"]?.string
            switch transition?.reason {
            case .turnLimit?: summary.escalationReason = "turn limit"
            case .timeout?: summary.escalationReason = "timeout"
            default: summary.escalationReason = "transfer to \(to ?? "a person")"
            }
        } else {
            summary.outcome = "resolved"
        }
        summary.endReason = "flow ended: \(summary.outcome)"
        hangUpAfterSpeech = summary.endReason
    }

    private func say(_ action: JSONTree) -> String? {
        action["type"]?.string == "say" ? action["text"]?.string : nil
    }

    /// The agent failed: the caller hears an apology and the call ends, recorded as such.
    private func fail(_ why: String) async -> [AgentCommand] {
        logger.error("agent failure: \(why)")
        summary.outcome = "other"
        summary.escalationReason = "agent error"
        summary.endReason = "agent error: \(why)"
        hangUpAfterSpeech = summary.endReason
        if speaking != nil { _ = host?.interruptPlayback(); speaking = nil }
        return await speak(Self.apology)
    }

    private func speak(_ text: String) async -> [AgentCommand] {
        guard !text.isEmpty else {
            if let reason = hangUpAfterSpeech { return [.hangUp(reason: reason)] }
            return []
        }
        let utterance = await speech.speak(text, voice: agent.voice, wpm: agent.rate)
        if utterance.fallback {
            summary.fallbacks += 1
            logger.warning("speech synthesis failed: the caller hears tones", metadata: ["text": "\(text.prefix(80))"])
        }
        counter += 1
        let mark = "utt-\(counter)"
        speaking = mark
        speakingSamples = utterance.samples
        summary.utterances += 1
        summary.characters += text.count
        summary.spokenMs += utterance.samples.count / (Speech.outputRate / 1000)
        logger.debug("saying", metadata: ["mark": "\(mark)", "text": "\(text)"])
        return [.speak(mark: mark, samples: utterance.samples)]
    }
}
