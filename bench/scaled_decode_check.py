# Would libjpeg's scaled IDCT (1/2, 1/4, 1/8) give the pixels Keras sees? Keras (image_dataset_from_directory)
# decodes fully (tf.io.decode_jpeg, fast integer IDCT) and resizes bilinearly (half-pixel centres, no antialias);
# this compares that with a scaled decode (Pillow draft mode: libjpeg-turbo's scaled IDCT) resized the same way,
# on a 12-megapixel photo-like JPEG (smooth colour fields plus noise). Result (issue #18): 18-27 levels apart at
# every scale and target size, far over the image tests' tolerance, so vggtool decodes fully and resizes at once.
#   /work/venv/bin/python bench/scaled_decode_check.py
import numpy as np, io, tensorflow as tf
from PIL import Image
rng = np.random.default_rng(0)
h, w = 3000, 4000
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
base = np.stack([128 + 100*np.sin(xx/300 + c)*np.cos(yy/(250+40*c)) for c in range(3)], -1)
img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
buf = io.BytesIO(); Image.fromarray(img).save(buf, "JPEG", quality=90); data = buf.getvalue()
full = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_FAST")
for target in (64, 250, 1000):
    ref = tf.image.resize(full[None], (target, target), "bilinear")[0].numpy()
    for scale in (2, 4, 8):
        if w // scale < target or h // scale < target: continue
        im = Image.open(io.BytesIO(data)); im.draft("RGB", (w // scale, h // scale))
        small = tf.constant(np.asarray(im.convert("RGB")))
        out = tf.image.resize(small[None], (target, target), "bilinear")[0].numpy()
        d = np.abs(out - ref)
        print(f"target {target} scale 1/{scale} (decoded {im.size}): max |diff| {d.max():.1f} mean {d.mean():.2f} levels (the image tests allow 1e-3 level)")
