import CVGGSupport
import Foundation

/// A structural check of an HDF5 file's global heap collections before libhdf5 reads any of them.
///
/// Variable-length strings (Keras's `model_config`, `keras_version`, `backend` attributes) live in global heap
/// collections ("GCOL" blocks). libhdf5 1.10 decodes a collection's objects trusting their sizes: a free-space
/// object of size 0 makes its decoder loop forever, and sizes running past the collection make it read out of
/// bounds (both found by fuzzing vggtool's Keras import; see Fixtures/fuzz-found). This walks every collection
/// the way libhdf5 does and refuses the file when an object would not advance the walk or would overrun its
/// collection, so such files fail at once with a plain message. Collections are found by their 8-byte header
/// (signature, version 1, zero reserved bytes) and a size that fits the file; a corrupted header that escapes
/// this search is still contained by vggtool's isolated parse (see docs/hostile-input.md). The file is read in
/// 4 MB steps (memory stays flat; about 0.1 s for a 550 MB file in the page cache).
enum GlobalHeapCheck {
    static let header: [UInt8] = Array("GCOL".utf8) + [1, 0, 0, 0]
    static let step = 4 << 20

    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// `read(offset, buffer)` fills `buffer` from the file (`fileSize` bytes) at `offset` and returns the bytes
    /// read; `label` names the file. Files without the HDF5 signature are left to libhdf5.
    static func check(size fileSize: Int, label: String, cancelled: () -> Bool,
                      read: (Int, UnsafeMutableRawBufferPointer) -> Int) throws {
        // The superblock: at 0, or after a user block of 512, 1024, 2048, ... bytes.
        var head = [UInt8](repeating: 0, count: 16)
        var superblock = 0
        while head.withUnsafeMutableBytes({ read(superblock, $0) }) < 16 || !head.starts(with: signature) {
            superblock = superblock == 0 ? 512 : superblock * 2
            guard superblock + 16 <= fileSize else { return }
        }
        // The size of "lengths" in this file (superblock v0/1: byte 14; v2/3: byte 10).
        let lengthSize = Int(head[8] <= 1 ? head[14] : head[10])
        guard lengthSize == 4 || lengthSize == 8 else { return }  // libhdf5 refuses other sizes itself
        let headerSize = 8 + lengthSize, objectHeaderSize = 8 + lengthSize
        func length(_ b: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<lengthSize { v |= UInt64(b[offset + i]) << (8 * UInt64(i)) }
            return v
        }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: step + 16, alignment: 16)
        defer { chunk.deallocate() }
        var collection: [UInt8] = []
        var pos = 0
        while pos < fileSize, !cancelled() {
            let got = read(pos, chunk)
            guard got >= headerSize, let base = chunk.baseAddress else { return }
            let scan = min(step, got - headerSize + 1)  // hits whose header lies wholly in this chunk
            var from = 0
            while from < scan, let hit = header.withUnsafeBytes({ vgg_memmem(base + from, scan - from + header.count - 1, $0.baseAddress, $0.count) }) {
                let i: Int = UnsafeRawPointer(base).distance(to: hit)
                from = i + 1
                let at = pos + i
                let size = length(UnsafeRawBufferPointer(chunk), i + 8)
                // Not a collection libhdf5 could load whole (it refuses those itself): not ours to judge.
                guard size >= UInt64(headerSize), size <= UInt64(fileSize - at) else { continue }
                collection = [UInt8](repeating: 0, count: Int(size))
                guard collection.withUnsafeMutableBytes({ read(at, $0) }) == Int(size) else { continue }
                try collection.withUnsafeBytes { c in
                    try walk(c, headerSize: headerSize, objectHeaderSize: objectHeaderSize, length: length) { why in
                        HDF5Error("check", object: label, kind: .corrupt,
                                  message: "global heap collection at byte \(at) is corrupt: \(why); refused before libhdf5 reads it")
                    }
                }
            }
            pos += step
        }
    }

    /// libhdf5's decoding walk over one collection's objects, with the checks it lacks.
    static func walk(_ c: UnsafeRawBufferPointer, headerSize: Int, objectHeaderSize: Int,
                     length: (UnsafeRawBufferPointer, Int) -> UInt64, bad: (String) -> HDF5Error) throws {
        let end = c.count
        var p = headerSize
        while p < end {
            if p + objectHeaderSize > end { break }  // too small for an object: free space
            let index = Int(c[p]) | Int(c[p + 1]) << 8
            let objectSize = length(c, p + 8)
            let need: UInt64
            if index > 0 {
                guard objectSize <= UInt64(end - p - objectHeaderSize) else { throw bad("object \(index) (\(objectSize) bytes) overruns the collection") }
                need = UInt64(objectHeaderSize) + (objectSize + 7) / 8 * 8
            } else {
                need = objectSize  // the free-space object's size includes its header
                guard need >= UInt64(objectHeaderSize) else { throw bad("its free-space object has size \(objectSize)") }
            }
            guard need <= UInt64(end - p) else { throw bad("object \(index) (\(objectSize) bytes) overruns the collection") }
            p += Int(need)
        }
    }
}
