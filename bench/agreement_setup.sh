# Sourced by bench/classifier_agreement.sh, bench/segmenter_agreement.sh and bench/photo_features.sh from the
# repository's root: $root, $bin (VGGTOOL_BIN, default .build/release/vggtool; nothing is built) and $py
# (PYTHON, default python3); `enter_work NAME` makes the work folder $work (kept with KEEP=1) and enters it.
root=$PWD
bin=${VGGTOOL_BIN:-.build/release/vggtool}
case "$bin" in /*) ;; *) bin=$root/$bin ;; esac
[ -x "$bin" ] || { echo "no vggtool binary at $bin (set VGGTOOL_BIN)" >&2; exit 1; }
py=${PYTHON:-python3}

enter_work() {
  work=$(mktemp -d "/tmp/vggtool-$1.XXXXXX")
  if [ "${KEEP:-0}" = 1 ]; then echo "work folder: $work"; else trap 'rm -rf "$work"' EXIT; fi
  cd "$work"
}
