import ModelGraph

// Layers whose output is their input's buffer: nothing to compute at inference.

extension InputLayer: RuntimeKernel {
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension Flatten: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension Reshape: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension Dropout: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}
