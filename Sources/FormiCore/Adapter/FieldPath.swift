// Dotted paths into a message, as extraction maps write them: "start.mediaFormat.sampleRate",
// "tracks.0" (an array index), "$payload" (the binary payload of a framed binary message), "$message"
// (the whole message: Vonage flattens the call's custom headers into its first message).
//
// A template keeps all its paths in one `PathTable`, as a trie of steps: "media.payload" and
// "media.track" share the step "media", so a message's "media" object is looked up once for both (see
// `PatternPlan`). A `FieldPath` is a plain index into the table, so patterns hold nothing
// reference-counted.

/// One path of a template's `PathTable`.
struct FieldPath: Sendable {
    /// The path's last step.
    let step: Int
    let text: Int
    /// The binary payload of a binary frame, not a place in the JSON.
    let isPayload: Bool
    /// The message itself.
    var isMessage: Bool { step < 0 }
}

/// Every path of one template.
struct PathTable: Sendable {
    /// One component of a path below its parent step (-1: the message itself). In an object the
    /// component is a key; in an array, `position` (the component as a number) is an index.
    struct Step: Sendable {
        let parent: Int
        let component: Range<Int>
        let position: Int?
    }

    private(set) var steps: [Step] = []
    /// The components' bytes, back to back.
    private(set) var bytes: [UInt8] = []
    private var texts: [String] = []

    /// Adds a path; nil when it is not well formed (empty, or with an empty component).
    mutating func add(_ text: String) -> FieldPath? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard !text.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        if text == "$message" {
            texts.append(text)
            return FieldPath(step: -1, text: texts.count &- 1, isPayload: false)
        }
        var step = -1
        for part in parts {
            let component = Array(part.utf8)
            if let existing = steps.indices.first(where: { steps[$0].parent == step && bytes[steps[$0].component].elementsEqual(component) }) {
                step = existing
                continue
            }
            let position = component.withUnsafeBytes { parseInteger($0) }.flatMap { Int(exactly: $0) }
            steps.append(Step(parent: step, component: bytes.count..<(bytes.count &+ component.count), position: position))
            bytes.append(contentsOf: component)
            step = steps.count &- 1
        }
        texts.append(text)
        return FieldPath(step: step, text: texts.count &- 1, isPayload: text == "$payload")
    }

    func text(_ path: FieldPath) -> String { texts[path.text] }
}
