#if canImport(Glibc)
import Glibc
#endif

/// A new empty directory under $TMPDIR (or /tmp), removed with its files at the end of the process.
func temporaryDirectory() throws -> String {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/formi-test-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw TemporaryFileError(message: "mkdtemp failed") }
    let path = String(cString: made)
    TemporaryFiles.directories.append(path)
    return path
}

struct TemporaryFileError: Error { var message: String }

enum TemporaryFiles {
    nonisolated(unsafe) static var directories: [String] = {
        atexit { for directory in TemporaryFiles.directories { removeTree(directory) } }
        return []
    }()
}

/// Removes a directory and the files directly inside it.
func removeTree(_ path: String) {
    guard let dir = opendir(path) else { return }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { unlink("\(path)/\(name)") }
    }
    closedir(dir)
    rmdir(path)
}
