// A template's incoming patterns laid out for the per-message loop, and every path they name resolved
// in one walk over each message.
//
// Walking the template's own arrays of patterns (structs holding arrays and strings) costs a retain
// and release per element; here everything is in plain buffers of plain values, owned by one mapper.
// Paths form a trie (see `PathTable`). When a message starts, the plan walks the members of the
// objects the trie reaches, once each, and records where every step of every path is: after that a
// path is one load, however many patterns test or extract it ("event" is tested by every pattern,
// "media" is the first step of four paths).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class PatternPlan {
    /// One pattern: its kind and where its detection leaves and extraction entries are.
    struct Span {
        let kind: EventKind
        let detections: Range<Int>
        let extractions: Range<Int>
    }

    /// A step of the path trie, as the walk needs it.
    struct Step {
        /// The key this step matches in an object: its signature (see `signature(of:)`) and where all
        /// of it is in `keyBytes`.
        let signature: UInt64
        let key: Range<Int>
        /// The index this step takes in an array, if its component is a number.
        let position: Int?
        /// Where the steps below this one are listed (see `children` and `tables`), if there are any.
        let slot: Int
        let isParent: Bool
    }

    /// The steps below one parent, by signature: an open-addressing table of step indices (-1: empty),
    /// at most half full, at `start` in `tableEntries`.
    struct Table {
        let start: Int
        let mask: Int

        @inline(__always)
        func home(of signature: UInt64) -> Int { Int(truncatingIfNeeded: (signature &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask }
    }

    let spans: UnsafeMutableBufferPointer<Span>
    let detections: UnsafeMutableBufferPointer<ProviderTemplate.Detection>
    let extractions: UnsafeMutableBufferPointer<ProviderTemplate.Extraction>
    private let steps: UnsafeMutableBufferPointer<Step>
    /// Steps are kept per parent, by slot: slot 0 is the message itself, slot s + 1 the step s. By slot:
    /// where its steps are in `listed`, and its table of them by key.
    private let children: UnsafeMutableBufferPointer<Range<Int>>
    private let tables: UnsafeMutableBufferPointer<Table>
    private let tableEntries: UnsafeMutableBufferPointer<Int32>
    /// Step indices, grouped by slot.
    private let listed: UnsafeMutableBufferPointer<Int>
    /// Keys back to back.
    private let keyBytes: UnsafeMutableRawBufferPointer

    /// Where each step was found in the current message (a tape index), valid when the step's entry in
    /// `foundIn` is the current `epoch`.
    private let foundIn: UnsafeMutableBufferPointer<UInt32>
    private let found: UnsafeMutableBufferPointer<Int>
    private var epoch: UInt32 = 0
    private var root: JSONValue?

    init(_ template: ProviderTemplate) {
        var allSpans: [Span] = [], allDetections: [ProviderTemplate.Detection] = [], allExtractions: [ProviderTemplate.Extraction] = []
        for pattern in template.patterns {
            let detectionStart = allDetections.count, extractionStart = allExtractions.count
            allDetections += pattern.detection
            allExtractions += pattern.extraction
            allSpans.append(Span(kind: pattern.kind, detections: detectionStart..<allDetections.count,
                                 extractions: extractionStart..<allExtractions.count))
        }
        spans = Self.buffer(allSpans)
        detections = Self.buffer(allDetections)
        extractions = Self.buffer(allExtractions)

        let table = template.paths
        var lists: [Int] = [], all: [Range<Int>] = []
        for parent in -1..<table.steps.count {
            let start = lists.count
            lists += table.steps.indices.filter { table.steps[$0].parent == parent }
            all.append(start..<lists.count)
        }
        listed = Self.buffer(lists)
        children = Self.buffer(all)
        let allSteps = table.steps.enumerated().map { index, step in
            Step(signature: Self.signature(of: table.bytes[step.component]), key: step.component,
                        position: step.position, slot: index &+ 1, isParent: !all[index &+ 1].isEmpty)
        }
        steps = Self.buffer(allSteps)
        var entries: [Int32] = [], slotTables: [Table] = []
        for range in all {
            var size = 1
            while size < range.count &* 2 { size &*= 2 }
            let slotTable = Table(start: entries.count, mask: size &- 1)
            entries += [Int32](repeating: -1, count: size)
            for step in lists[range] {
                var at = slotTable.home(of: allSteps[step].signature)
                while entries[slotTable.start &+ at] >= 0 { at = (at &+ 1) & slotTable.mask }
                entries[slotTable.start &+ at] = Int32(truncatingIfNeeded: step)
            }
            slotTables.append(slotTable)
        }
        tables = Self.buffer(slotTables)
        tableEntries = Self.buffer(entries)
        keyBytes = .allocate(byteCount: table.bytes.count, alignment: 1)
        keyBytes.copyBytes(from: table.bytes)
        foundIn = Self.buffer([UInt32](repeating: 0, count: table.steps.count))
        found = Self.buffer([Int](repeating: 0, count: table.steps.count))
    }

    private static func buffer<T>(_ elements: [T]) -> UnsafeMutableBufferPointer<T> {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: elements.count)
        _ = buffer.initialize(from: elements)
        return buffer
    }

    deinit {
        spans.deallocate()
        detections.deallocate()
        extractions.deallocate()
        steps.deallocate()
        children.deallocate()
        tables.deallocate()
        tableEntries.deallocate()
        listed.deallocate()
        keyBytes.deallocate()
        foundIn.deallocate()
        found.deallocate()
    }

    /// Starts a message: finds every step of every path in `root`, an object.
    func begin(_ root: JSONValue) {
        self.root = root
        epoch &+= 1
        if epoch == 0 {  // wrapped: forget every mark rather than trust a stale one
            foundIn.update(repeating: 0)
            epoch = 1
        }
        walk(slot: 0, below: root.index, in: root)
    }

    /// The value at `path` in the current message, if there is one.
    @inline(__always)
    func resolve(_ path: FieldPath) -> JSONValue? {
        guard let root, path.step >= 0, path.step < steps.count, foundIn[path.step] == epoch else { return nil }
        return JSONValue(nodes: root.nodes, bytes: root.bytes, index: found[path.step])
    }

    /// Marks where the steps of `slot` are below the value at tape index `parent`, and below them.
    private func walk(slot: Int, below parent: Int, in root: JSONValue) {
        var missing = children[slot].count
        guard missing > 0 else { return }
        let nodes = root.nodes
        switch nodes[parent].kind {
        case .object:
            var member = parent &+ 1
            let end = Int(nodes[parent].end)
            while member < end, missing > 0 {
                let key = nodes[member]
                if let step = key.escaped ? escapedMatch(member, slot, root) : match(key, slot, root.bytes) {
                    mark(step, at: member &+ 1, in: root)  // the first of repeated keys counts
                    missing &-= 1
                }
                member = Int(nodes[member &+ 1].end)
            }
        case .array:
            for candidate in children[slot] {
                let step = listed[candidate]
                guard let position = steps[step].position,
                      let element = JSONValue(nodes: nodes, bytes: root.bytes, index: parent)[position: position] else { continue }
                mark(step, at: element.index, in: root)
            }
        default:
            return
        }
    }

    /// Records that `step` is at tape index `index`, then finds the steps below it.
    @inline(__always)
    private func mark(_ step: Int, at index: Int, in root: JSONValue) {
        foundIn[step] = epoch
        found[step] = index
        if steps[step].isParent { walk(slot: steps[step].slot, below: index, in: root) }
    }

    /// The step of `slot`, not yet found, whose key is `key` (a key without escapes), looked up in the
    /// slot's table by signature.
    @inline(__always)
    private func match(_ key: JSONNode, _ slot: Int, _ text: UnsafeRawBufferPointer) -> Int? {
        let signature = Self.signature(of: key, in: text)
        let table = tables[slot]
        var at = table.home(of: signature)
        while true {
            let entry = tableEntries[table.start &+ at]
            guard entry >= 0 else { return nil }
            let step = Int(entry)
            if steps[step].signature == signature, foundIn[step] != epoch, restEquals(key, step, in: text) { return step }
            at = (at &+ 1) & table.mask
        }
    }

    /// The same for an escaped key (rare), unescaped and compared with every step of `slot`.
    private func escapedMatch(_ member: Int, _ slot: Int, _ root: JSONValue) -> Int? {
        let key = JSONValue(nodes: root.nodes, bytes: root.bytes, index: member)
        for candidate in children[slot] {
            let step = listed[candidate]
            if foundIn[step] != epoch, key.stringEquals(UnsafeRawBufferPointer(rebasing: keyBytes[steps[step].key])) { return step }
        }
        return nil
    }

    /// A key's length (up to 255) in the top byte and its first seven bytes below, little-endian: equal
    /// signatures mean equal keys up to seven bytes long, and almost always beyond.
    private static func signature(of key: some Collection<UInt8>) -> UInt64 {
        var prefix: UInt64 = 0
        for (shift, byte) in key.prefix(7).enumerated() { prefix |= UInt64(byte) << (8 &* shift) }
        return UInt64(truncatingIfNeeded: min(key.count, 255)) << 56 | prefix
    }

    /// The same for a key in the message, with one load where eight bytes can be read from its start
    /// (a key is followed by at least '"', ':' and a value, but not always by eight bytes).
    @inline(__always)
    private static func signature(of key: JSONNode, in text: UnsafeRawBufferPointer) -> UInt64 {
        let start = Int(key.start), length = Int(key.length)
        guard let base = text.baseAddress, start &+ 8 <= text.count else {
            return signature(of: UnsafeRawBufferPointer(rebasing: text[start..<(start &+ length)]))
        }
        let head = UInt64(min(length, 7))
        let prefix = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start, as: UInt64.self)) & ((1 << (8 &* head)) &- 1)
        return UInt64(truncatingIfNeeded: min(length, 255)) << 56 | prefix
    }

    /// Whether the bytes of a key beyond its signature's seven equal those of `step`'s key.
    @inline(__always)
    private func restEquals(_ key: JSONNode, _ step: Int, in text: UnsafeRawBufferPointer) -> Bool {
        let length = Int(key.length)
        guard length > 7 else { return true }
        let mine = steps[step].key
        guard mine.count == length, let base = text.baseAddress, let keys = keyBytes.baseAddress else { return false }
        return memcmp(base + (Int(key.start) &+ 7), keys + (mine.lowerBound &+ 7), length &- 7) == 0
    }
}
