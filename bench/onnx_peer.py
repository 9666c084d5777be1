#!/usr/bin/env python3
"""Peer side of bench/onnx_bench.sh: checks vggtool's VGG16 exports in WORK (m.onnx NHWC, nchw.onnx, pre.onnx
with caffe preprocessing) with onnx.checker and ONNX Runtime against tf-keras at 224x224, and times tf2onnx on
the same tf-keras model and on a Keras 3 .keras file of it.
    python bench/onnx_peer.py WORK
"""
import os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import onnx
import onnxruntime as ort

work = sys.argv[1]
h5 = os.path.join(work, "vgg16_demo.h5")
rng = np.random.default_rng(0)
rgb = rng.uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
x = (rgb[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)).astype(np.float32)


def rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def ort_run(path, feed):
    onnx.checker.check_model(path, full_check=True)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: feed})[0]


import tf_keras as k2
km = k2.models.load_model(h5)
expected = km.predict(x, verbose=0)
for name, feed in [("m.onnx (NHWC)", x), ("nchw.onnx", np.ascontiguousarray(x.transpose(0, 3, 1, 2))), ("pre.onnx (RGB 0..255 in)", rgb)]:
    y = ort_run(os.path.join(work, name.split()[0]), feed)
    print(f"  VGG16 {name}: checker full_check ok; ONNX Runtime vs tf-keras relative error {rel(y, expected):.2e}")

import tensorflow as tf
import tf2onnx
spec = (tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"),)
s = time.time()
tf2onnx.convert.from_keras(km, input_signature=spec, opset=13, output_path=os.path.join(work, "tf2onnx.onnx"))
t = time.time() - s
y2 = ort.InferenceSession(os.path.join(work, "tf2onnx.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
ours = ort_run(os.path.join(work, "m.onnx"), x)
print(f"  tf2onnx 1.16.1 from_keras (tf-keras model in memory, load excluded): {t:.2f} s; its output vs vggtool's export: {rel(ours, y2):.2e}")

import keras
k3 = keras.models.load_model(h5)
k3.save(os.path.join(work, "vgg16.keras"))
try:
    s = time.time()
    m3 = keras.models.load_model(os.path.join(work, "vgg16.keras"))
    tf2onnx.convert.from_keras(m3, input_signature=spec, opset=13, output_path=os.path.join(work, "tf2onnx_k3.onnx"))
    print(f"  tf2onnx on the Keras 3 .keras file: succeeded in {time.time() - s:.2f} s")
except Exception as e:
    print(f"  tf2onnx on the Keras 3 .keras file: fails ({type(e).__name__}: {str(e).splitlines()[0][:160]})")
