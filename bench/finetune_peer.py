#!/usr/bin/env python3
"""tf-keras side of bench/finetune_bench.sh: the seed's recipe with image_dataset_from_directory and fit.

    finetune_peer.py NOTOP.h5 TRAIN_DIR VAL_DIR SIZE EPOCHS RESULTS.json [SEED]
(SEED, when given, seeds Python, NumPy and TensorFlow: the head's initial weights and the shuffling.)
Prints and writes wall time (from process start, as the user sees it), final val accuracy (and every epoch's), peak RSS.
"""
import json, os, resource, sys, time
t0 = time.time()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
import tf_keras as k2

notop_path, train_dir, val_dir, size, epochs, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
if len(sys.argv) > 7:
    k2.utils.set_random_seed(int(sys.argv[7]))
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
src = k2.models.load_model(notop_path, compile=False)
base = k2.applications.VGG16(include_top=False, weights=None, input_shape=(size, size, 3))
base.set_weights(src.get_weights())
base.trainable = False
x = k2.layers.Flatten()(base.output)
x = k2.layers.Dense(1024, activation="relu")(x)
x = k2.layers.Dense(1024, activation="relu")(x)
x = k2.layers.Dense(4096, activation="relu")(x)
outputs = k2.layers.Dense(2, activation="softmax")(x)
model = k2.Model(base.input, outputs)
model.compile(optimizer=k2.optimizers.Adam(learning_rate=1e-4), loss="categorical_crossentropy", metrics=["accuracy"])
prep = lambda a, b: (k2.applications.vgg16.preprocess_input(a), b)
train = k2.utils.image_dataset_from_directory(train_dir, label_mode="categorical", image_size=(size, size), batch_size=16, seed=1).map(prep)
val = k2.utils.image_dataset_from_directory(val_dir, label_mode="categorical", image_size=(size, size), batch_size=16, shuffle=False).map(prep)
hist = model.fit(train, validation_data=val, epochs=epochs, verbose=2)
wall = time.time() - t0
res = {"seconds": wall, "val_accuracy": float(hist.history["val_accuracy"][-1]), "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
       "val_accuracy_history": [float(a) for a in hist.history["val_accuracy"]]}
print(json.dumps(res))
with open(out, "w") as f:
    json.dump(res, f)
