// Two builds of one harness. `make fuzz` compiles with -DFORMI_FUZZING and libFuzzer drives
// LLVMFuzzerTestOneInput, picking the target from FORMI_FUZZ_TARGET. The normal build is a replayer:
// `formi-fuzz TARGET FILE...` runs saved inputs (crashes, corpora) through the same target.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

func target(named name: String) -> (@Sendable (UnsafeRawBufferPointer) -> Void)? {
    fuzzTargets.first { $0.name == name }?.run
}

#if FORMI_FUZZING
private let selectedTarget: @Sendable (UnsafeRawBufferPointer) -> Void = {
    let name = getenv("FORMI_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let run = target(named: name) else {
        fatalError("set FORMI_FUZZ_TARGET to one of: \(fuzzTargets.map(\.name).joined(separator: ", "))")
    }
    return run
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let run = target(named: arguments[1]) else {
            print("usage: formi-fuzz TARGET [FILE...]; targets: \(fuzzTargets.map(\.name).joined(separator: " "))")
            exit(arguments.count == 2 && arguments[1] == "--list" ? 0 : 2)
        }
        for path in arguments.dropFirst(2) {
            guard let bytes = readFile(path) else {
                print("cannot read \(path)")
                exit(1)
            }
            bytes.withUnsafeBytes(run)
        }
        print("\(arguments[1]): replayed \(arguments.count - 2) inputs")
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n == 0 { break }
            bytes += chunk.prefix(n)
        }
        return bytes
    }
}
#endif
