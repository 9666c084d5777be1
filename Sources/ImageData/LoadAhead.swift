import Dispatch

/// Loads `items` in chunks of `step` with `load` on a background thread, one chunk ahead of `consume`, which
/// runs on the caller's thread in order with the chunk's first index, the chunk and what `load` returned: image
/// decoding overlaps the model's work, and at most two chunks' worth of loaded data exist at once. An error
/// thrown by `consume` stops the loop (after the chunk being loaded is done).
public func forEachChunkLoadedAhead<Item: Sendable, T>(_ items: [Item], step: Int, load: @escaping @Sendable ([Item]) -> T,
                                                       consume: (Int, [Item], T) throws -> Void) rethrows {
    let step = max(1, step)
    let starts = Array(stride(from: 0, to: items.count, by: step))
    let queue = DispatchQueue(label: "vggtool.load-ahead")
    func chunk(_ k: Int) -> [Item] { Array(items[starts[k]..<min(items.count, starts[k] + step)]) }
    func start(_ k: Int) -> (DispatchGroup, LoadBox<T>) {
        let group = DispatchGroup(), box = LoadBox<T>()
        let c = chunk(k)
        queue.async(group: group) { box.value = load(c) }
        return (group, box)
    }
    var pending = starts.isEmpty ? nil : start(0)
    defer { pending?.0.wait() }
    for k in starts.indices {
        let (group, box) = pending!
        group.wait()
        pending = k + 1 < starts.count ? start(k + 1) : nil
        let loaded = box.value!
        box.value = nil
        try consume(starts[k], chunk(k), loaded)
    }
}

/// What a background load left for the consumer (written before the group is left, read after its wait).
private final class LoadBox<T>: @unchecked Sendable {
    var value: T?
}
