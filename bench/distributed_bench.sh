#!/usr/bin/env bash
# Benchmark: fine-tuning as an MPI job on this machine, and the scaling model for N machines
# (docs/distributed.md). The recipe of bench/finetune_bench.sh (VGG16 from `vggtool demo`'s seeded weights,
# Fashion-MNIST T-shirt/top vs Trouser, 200 + 200 training and 100 + 100 validation PNGs, 10 epochs, batch 16,
# Adam 1e-4) run three ways:
#   1 rank  x 2 threads   (a plain run: no MPI)
#   2 ranks x 1 thread    (mpirun -n 2: each rank gets half the cores)
#   1 rank  x 2 threads under mpirun -n 1 (MPI's own overhead)
# then times the collectives a step makes (`vggtool _collective-bench`: MPI_Iallreduce of the head's gradient,
# MPI_Ialltoallv of a step's features) and prints the model's prediction for N machines from the measured
# per-image costs and a network of NET_GBPS gigabits/s (default 10) with NET_LATENCY_US microseconds (default 50)
# per message.
#   bench/distributed_bench.sh [size]          (default size 64; 250 is the recipe's)
#   EPOCHS=2 PER_CLASS=40 bench/distributed_bench.sh 64      (a shorter run)
#   VGGTOOL_BIN=.build/debug/vggtool BASE=tiny.vggm EPOCHS=1 PER_CLASS=16 bench/distributed_bench.sh 32   (smoke test
#   of the script: an existing binary, a given base model instead of the demo's VGG16)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-64}
epochs=${EPOCHS:-10}
per=${PER_CLASS:-200}
net_gbps=${NET_GBPS:-10}
net_latency_us=${NET_LATENCY_US:-50}
command -v mpirun >/dev/null || { echo "needs mpirun (apt-get install openmpi-bin)"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ -n "${VGGTOOL_BIN:-}" ]; then bin=$(realpath "$VGGTOOL_BIN"); else
  swift build -c release --product vggtool --static-swift-stdlib >/dev/null
  bin=$PWD/.build/release/vggtool
fi
work=$(mktemp -d /tmp/vggtool-mpibench.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ -n "${BASE:-}" ]; then base=$(realpath "$BASE"); else
  "$bin" demo --dir "$work/demo" --epochs 1 >/dev/null   # VGG16 with top, seeded weights (finetune takes its base)
  base=$work/demo/vgg16_demo.vggm
fi
"$bin" dataset fashion-mnist --classes T-shirt_top,Trouser --per-class "$per" --split train -o "$work/train" >/dev/null
"$bin" dataset fashion-mnist --classes T-shirt_top,Trouser --per-class $((per / 2)) --split t10k -o "$work/val" >/dev/null
args=(finetune "$base" --data "$work/train" --val "$work/val" --input-size "$size" --epochs "$epochs" --batch-size 16 --lr 1e-4 -q)

# The convolution algorithms are measured once per geometry and thread count and cached on disk
# (docs/runtime.md): a warm-up run of each configuration (one epoch: the frozen pass sees every geometry) fills a
# cache of the benchmark's own, so the timed runs do not include the measuring.
export XDG_CACHE_HOME=$work/cache
warm() { "$@" "$bin" "${args[@]}" --epochs 1 -o "$work/warm.vggm" > /dev/null; }
warm
warm mpirun -q --bind-to core -n 2
run() {  # name, launcher...
  local name=$1; shift
  sync
  /usr/bin/time -f '%e %M' -o "$work/time_$name" "$@" "$bin" "${args[@]}" -o "$work/$name.vggm" > "$work/$name.log"
  read -r sec kb < "$work/time_$name"
  feat=$(grep -o 'in [0-9.]* s, cached' "$work/$name.log" | grep -o '[0-9.]*' | head -1)
  train=$(awk -F'[()]' '/^epoch / { gsub(/ s/, "", $(NF-1)); t += $(NF-1) } END { print t }' "$work/$name.log")
  acc=$(tail -1 "$work/$name.vggm.history.csv" | cut -d, -f4)
  printf '%-22s %8.1f %10.1f %10.1f %9.4f %8.0f\n' "$name" "$sec" "$feat" "$train" "$acc" "$(echo "$kb / 1024" | bc -l)"
  eval "sec_$name=$sec feat_$name=$feat train_$name=$train"
}
echo "size $size, $((per * 2)) training + $per validation images, $epochs epochs, batch 16"
printf '%-22s %8s %10s %10s %9s %8s\n' run wall_s features_s epochs_s val_acc peak_MB
run 1rank_x_2threads
run 2ranks_x_1thread mpirun -q --bind-to core -n 2
run mpirun_1rank_x_2threads mpirun -q --bind-to none -n 1
cat "$work/1rank_x_2threads.log" | grep -m1 '^Trainable params' || true
params=$(grep -m1 '^Trainable params' "$work/1rank_x_2threads.log" | grep -o '[0-9]*' | head -1)
images=$(( per * 3 ))
steps=$(( (per * 2 + 15) / 16 ))
# Features exchanged per step: each rank receives (B/N)(N-1)/N of the batch's features; a feature is the last
# frozen layer's output (7x7x512 floats at 224-255, (size/32)^2 x 512 in general).
fmap=$(( size / 32 )); feat_bytes=$(( fmap * fmap * 512 * 4 ))
echo
echo "collectives for the head's gradient ($params float32) and one step's feature exchange (8 images, $feat_bytes bytes each):"
mpirun -q --bind-to core -n 2 "$bin" _collective-bench --floats "$params" --bytes $(( 8 * feat_bytes )) --repeats 10 | tee "$work/coll"
ar2=$(grep -o 'floats ([0-9.]* MB): [0-9.]*' "$work/coll" | awk '{print $NF}')
echo
echo "per-image costs (1 rank x 2 threads): frozen pass $(echo "$feat_1rank_x_2threads / $images" | bc -l | cut -c1-7) s/image, training $(echo "$train_1rank_x_2threads / ($epochs * $steps)" | bc -l | cut -c1-7) s/step"
echo
echo "scaling model: N machines like this one, a ${net_gbps} Gb/s network, ${net_latency_us} us latency (ring allreduce:"
echo "2(N-1)/N x gradient bytes / bandwidth + 2(N-1) latencies per step; features: (B/N)(N-1)/N x feature bytes per step):"
printf '%4s %12s %12s %12s %12s %10s\n' N features_s compute_s allreduce_s exchange_s total_s
for n in 1 2 4 8 16 32; do
  awk -v n="$n" -v f="$feat_1rank_x_2threads" -v t="$train_1rank_x_2threads" -v e="$epochs" -v s="$steps" -v p="$params" \
      -v bw="$(echo "$net_gbps * 125000000" | bc)" -v lat="$(echo "$net_latency_us / 1000000" | bc -l)" -v fb="$feat_bytes" 'BEGIN {
    feat = f / n; comp = t / n
    ar = (n > 1) ? e * s * (2 * (n - 1) / n * p * 4 / bw + 2 * (n - 1) * lat) : 0
    ex = (n > 1) ? e * s * (16 / n * (n - 1) / n * fb / bw + (n - 1) * lat) : 0
    printf "%4d %12.1f %12.1f %12.1f %12.2f %10.1f\n", n, feat, comp, ar, ex, feat + comp + ar + ex }'
done
echo "(measured on this machine: 2-rank allreduce of the gradient $ar2 s over shared memory)"
