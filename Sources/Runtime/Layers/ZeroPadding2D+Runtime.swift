import CKernels
import ModelGraph

extension ZeroPadding2D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let x = ctx.x, out = ctx.out, s = ctx.inShape.map { Int32($0) }
        let (t, b, l, r) = (Int32(top), Int32(bottom), Int32(left), Int32(right))
        return { vgg_zero_pad(x, out, s[0], s[1], s[2], s[3], t, b, l, r) }
    }
}
