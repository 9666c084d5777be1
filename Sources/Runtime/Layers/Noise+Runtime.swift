import ModelGraph

// The identity at inference: the output is the input's buffer.

extension GaussianNoise: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension GaussianDropout: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension SpatialDropout2D: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension ActivityRegularization: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension SpatialDropout1D: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension SpatialDropout3D: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension AlphaDropout: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension Identity: RuntimeKernel {
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}
