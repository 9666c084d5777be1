/// A minimal protocol-buffers encoder: just what ONNX's messages need (varints, fixed32 floats,
/// length-delimited strings, bytes and sub-messages, packed repeated int64). Wire format:
/// https://protobuf.dev/programming-guides/encoding/ — a field is `tag = (number << 3) | wire type`
/// followed by its value; wire types 0 (varint), 2 (length-delimited), 5 (32-bit).
///
/// Large tensors are never held in a message: `ONNXFile` writes each initializer's `raw_data` straight
/// into the output's mapping, so only the small structural bytes pass through here.
struct ProtoWriter {
    /// The encoded bytes so far.
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }

    /// An int64/int32/enum field (negative values as ten-byte two's complement, as protobuf does).
    mutating func int(_ field: Int, _ value: Int) {
        tag(field, 0)
        varint(UInt64(bitPattern: Int64(value)))
    }

    /// A `float` field (fixed32, little-endian).
    mutating func float(_ field: Int, _ value: Float) {
        tag(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    /// A sub-message built by `body`.
    mutating func message(_ field: Int, _ body: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        body(&inner)
        bytes(field, inner.bytes)
    }

    /// A packed repeated int64 field.
    mutating func packed(_ field: Int, _ values: [Int]) {
        var inner = ProtoWriter()
        for v in values { inner.varint(UInt64(bitPattern: Int64(v))) }
        bytes(field, inner.bytes)
    }

    /// The header of a length-delimited field whose `length` bytes the caller writes afterwards.
    mutating func header(_ field: Int, length: Int) {
        tag(field, 2)
        varint(UInt64(length))
    }
}
