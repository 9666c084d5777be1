#!/usr/bin/env python3
"""Helpers and peers for bench/precision_bench.sh.

    precision_peer.py notop OUT.h5                         VGG16 without top, seeded weights, tf-keras .h5
    precision_peer.py arrays TEST_DIR CAL_DIR WORK          WORK/test.npy, WORK/cal.npy: images preprocessed as
                                                            vggtool reads them (bilinear 224x224, caffe)
    precision_peer.py compare WORK SECONDS [name bytes]...  ONNX Runtime fp32 and quantize_static int8 timed in
                                                            turns with `$VGGTOOL_BIN bench` (ROUNDS rounds, each
                                                            runner's best), outputs compared; prints the table
    precision_peer.py agreement WORK                        top-1 agreement of WORK/c_{bf16,int8}.npy with c_fp32
"""
import glob, json, os, subprocess, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np

MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def images(folder):
    import tensorflow as tf
    paths = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True) if p.lower().endswith((".png", ".jpg", ".jpeg")))
    out = []
    for p in paths:
        x = tf.io.decode_image(tf.io.read_file(p), channels=3, expand_animations=False)
        x = tf.image.resize(tf.cast(x, tf.float32), (224, 224), method="bilinear").numpy()
        out.append(x[..., ::-1] - MEAN)
    return np.stack(out).astype(np.float32)


def timed(fn, batch, seconds):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times))


def cosine(a, b):
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    c = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
    return float(c.mean()), float(c.min())


cmd = sys.argv[1]
if cmd == "notop":
    import tensorflow as tf
    import tf_keras as k2
    k2.utils.set_random_seed(0)
    k2.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3)).save(sys.argv[2])
elif cmd == "arrays":
    test, cal, work = sys.argv[2:5]
    np.save(os.path.join(work, "test.npy"), images(test))
    np.save(os.path.join(work, "cal.npy"), images(cal))
elif cmd == "compare":
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    work, seconds = sys.argv[2], float(sys.argv[3])
    sizes = dict(zip(sys.argv[4::2], map(int, sys.argv[5::2])))
    test, cal = np.load(os.path.join(work, "test.npy")), np.load(os.path.join(work, "cal.npy"))
    fp32_onnx, pre_onnx, int8_onnx = (os.path.join(work, n) for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))

    class Reader(CalibrationDataReader):
        def __init__(self, name):
            self.it = iter([{name: cal[i:i + 1]} for i in range(len(cal))])

        def get_next(self):
            return next(self.it, None)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s32 = ort.InferenceSession(fp32_onnx, opts, providers=["CPUExecutionProvider"])
    name = s32.get_inputs()[0].name
    quant_pre_process(fp32_onnx, pre_onnx)
    t = time.perf_counter()
    quantize_static(pre_onnx, int8_onnx, Reader(name), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    print(f"onnxruntime quantize_static: {time.perf_counter() - t:.1f} s, {os.path.getsize(int8_onnx)} bytes "
          f"({100 * os.path.getsize(int8_onnx) / os.path.getsize(fp32_onnx):.1f}% of the fp32 .onnx)")
    s8 = ort.InferenceSession(int8_onnx, opts, providers=["CPUExecutionProvider"])
    speed = {}
    rng = np.random.default_rng(0)
    inputs = {b: rng.uniform(-128, 128, (b, 224, 224, 3)).astype(np.float32) for b in (1, 8)}
    vggtool = os.environ["VGGTOOL_BIN"]
    models = {"fp32": os.path.join(work, "fp32.vggm"), "bf16": os.path.join(work, "fp32.vggm"), "int8": os.path.join(work, "int8.vggm")}

    def best(key, value):
        speed[key] = max(speed.get(key, 0.0), value)

    # Turns: ONNX Runtime, then vggtool, ROUNDS times; each runner's best round.
    for _ in range(int(os.environ.get("ROUNDS", "2"))):
        for b in (1, 8):
            x = inputs[b]
            best(("onnxruntime fp32", b), timed(lambda: s32.run(None, {name: x}), b, seconds))
            best(("onnxruntime int8", b), timed(lambda: s8.run(None, {name: x}), b, seconds))
        for b in (1, 8):
            for p, m in models.items():
                out = subprocess.run([vggtool, "bench", m, "--batch", str(b), "--precision", p, "--json"], check=True,
                                     capture_output=True, text=True).stdout
                best((f"vggtool {p}", b), json.loads(out)["images_per_second"])
    y = {p: np.load(os.path.join(work, f"y_{p}.npy")) for p in ("fp32", "bf16", "int8")}
    y["onnxruntime fp32"] = np.concatenate([s32.run(None, {name: test[i:i + 8]})[0] for i in range(0, len(test), 8)])
    y["onnxruntime int8"] = np.concatenate([s8.run(None, {name: test[i:i + 8]})[0] for i in range(0, len(test), 8)])
    o32 = {b: speed[("onnxruntime fp32", b)] for b in (1, 8)}
    o8 = {b: speed[("onnxruntime int8", b)] for b in (1, 8)}
    print(f"\nVGG16 without top, 224x224, {len(test)} held-out images for the features; images/s (each runner's best round of "
          f"medians), x ONNX Runtime fp32 / int8")
    print(f"{'runner':18} {'batch 1':>8} {'x ort32':>8} {'x ort8':>7} {'batch 8':>8} {'x ort32':>8} {'x ort8':>7}   cosine to vggtool fp32 (mean, worst)")
    for r in ("onnxruntime fp32", "onnxruntime int8", "vggtool fp32", "vggtool bf16", "vggtool int8"):
        cells = []
        for b in (1, 8):
            v = speed.get((r, b), float("nan"))
            cells += [f"{v:8.2f}", f"{v / o32[b]:8.2f}", f"{v / o8[b]:7.2f}"]
        key = r.replace("vggtool ", "")
        c = cosine(y[key if key in y else r], y["fp32"])
        print(f"{r:18} " + " ".join(cells) + f"   {c[0]:.5f}, {c[1]:.5f}")
    base = sizes.get("fp32")
    if base:
        print("\nfiles: " + ", ".join(f"{k} {v} bytes ({100 * v / base:.1f}%)" for k, v in sizes.items()))
    print("targets: bf16 and int8 >= 2.5x ONNX Runtime fp32, int8 >= 1.3x ONNX Runtime int8; int8 file <= 27%, bf16 <= 51%; "
          "cosine >= 0.999 (bf16), 0.99 (int8)")
    print(f"versions: onnxruntime {ort.__version__}")
elif cmd == "agreement":
    work = sys.argv[2]
    ref = np.load(os.path.join(work, "c_fp32.npy")).argmax(1)
    for p in ("bf16", "int8"):
        got = np.load(os.path.join(work, f"c_{p}.npy")).argmax(1)
        print(f"top-1 agreement {p} with fp32: {100 * float((got == ref).mean()):.2f}% of {len(ref)} images")
