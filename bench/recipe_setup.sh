# Sourced by bench/finetune_bench.sh and bench/finetune_accuracy.sh: the fine-tuning recipe's inputs in "$work"
# (set by the caller, with $bin and $py): VGG16 without top from the demo's seeded weights (notop.h5 for
# tf-keras, notop.vggm for vggtool) and Fashion-MNIST T-shirt/top against Trouser, 200 + 200 training images
# (train/) and 100 + 100 validation images (val/); the algorithm cache in "$work/cache".
"$bin" demo --dir "$work/demo" >/dev/null
"$py" bench/runtime_peers.py "$work/demo/vgg16_demo.h5" "$work/notop.h5" "$work/peers.json" 0.1 >/dev/null 2>&1
"$bin" convert "$work/notop.h5" -o "$work/notop.vggm" --no-source-hash >/dev/null
"$bin" dataset fashion-mnist --classes T-shirt_top,Trouser --per-class 200 --split train -o "$work/train" >/dev/null
"$bin" dataset fashion-mnist --classes T-shirt_top,Trouser --per-class 100 --split t10k -o "$work/val" >/dev/null
export XDG_CACHE_HOME=$work/cache
