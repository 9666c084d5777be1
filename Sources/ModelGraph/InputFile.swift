#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks shared by every reader of user-supplied files.
public enum InputFile {
    /// Why `path` must not be opened as an input, when it exists but is not a regular file: opening a FIFO
    /// blocks until a writer appears, and devices such as /dev/zero or /dev/urandom never end. nil for a regular
    /// file (or a symbolic link to one) and for a path that does not exist (the reader reports that itself).
    public static func notRegular(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "is a directory"
        case S_IFIFO: return "is a FIFO (named pipe), not a regular file: refused"
        case S_IFCHR, S_IFBLK: return "is a device, not a regular file: refused"
        case S_IFSOCK: return "is a socket, not a regular file: refused"
        default: return "is not a regular file: refused"
        }
    }
}
