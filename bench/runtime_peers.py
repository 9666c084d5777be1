#!/usr/bin/env python3
"""Peers for bench/runtime_bench.sh: VGG16 without top at 224x224 in TF-Keras and ONNX Runtime, on the weights
of a given tf.keras .h5 (vggtool's seeded demo file), batch 1 and 8. Writes the no-top model as .h5 for vggtool.

    runtime_peers.py MODEL.h5 NOTOP_OUT.h5 RESULTS.json [seconds]
"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import tf_keras as k2

src, notop_path, results_path = sys.argv[1], sys.argv[2], sys.argv[3]
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)

full = k2.models.load_model(src, compile=False)
notop = k2.Model(full.input, full.get_layer("block5_pool").output, name="vgg16_notop")
notop.save(notop_path)


def timed(fn, batch):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times)), len(times)


results = {}
rng = np.random.default_rng(0)
call = tf.function(lambda x: notop(x, training=False), jit_compile=False)
for batch in (1, 8):
    x = rng.uniform(-128, 128, (batch, 224, 224, 3)).astype(np.float32)
    ips, n = timed(lambda: call(x).numpy(), batch)
    results[f"tf_keras_b{batch}"] = ips
    print(f"tf-keras     batch {batch}: {ips:6.2f} images/s ({n} runs)", flush=True)

import tf2onnx
import onnxruntime as ort
spec = (tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"),)
onnx_model, _ = tf2onnx.convert.from_keras(notop, input_signature=spec, opset=13)
opts = ort.SessionOptions()
opts.intra_op_num_threads = 2
opts.inter_op_num_threads = 1
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(onnx_model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
for batch in (1, 8):
    x = rng.uniform(-128, 128, (batch, 224, 224, 3)).astype(np.float32)
    ref = notop(x, training=False).numpy()
    got = sess.run(None, {name: x})[0]
    ips, n = timed(lambda: sess.run(None, {name: x}), batch)
    results[f"onnxruntime_b{batch}"] = ips
    print(f"onnxruntime  batch {batch}: {ips:6.2f} images/s ({n} runs; max |diff| to tf-keras {np.abs(ref - got).max():.2e})", flush=True)
results["versions"] = {"tensorflow": tf.__version__, "onnxruntime": ort.__version__, "tf2onnx": tf2onnx.__version__}
with open(results_path, "w") as f:
    json.dump(results, f)
