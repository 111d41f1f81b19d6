#!/usr/bin/env bash
# The next GPU run in one command (Tools/Trainer/README.md, "Next, on a GPU"): times each speed option on 40 steps,
# then goes on from the shipped weights for SECONDS (default 330: all of it fits the device machine's 10 minutes a
# command) with the option that trains the most images per second, or with plain "--batch 512" if none ran.
#   bash Tools/Trainer/gpu/next.sh OUT_DIR [SECONDS] [OPTIONS ...]
# OPTIONS default to "--batch 512 --bf16 --compile" "--batch 2048 --bf16 --compile"; each must name its --batch.
# OUT_DIR gets the weights and train.log; the checkpoint goes to /tmp (it is larger than the weights).
set -euo pipefail
if [ $# -lt 1 ]; then sed -n "2,7p" "$0"; exit 2; fi
here="$(cd "$(dirname "$0")" && pwd)"
model="$here/../../../Host/BuiltinModel"
out="$1"; seconds="${2:-330}"; shift $(( $# < 2 ? $# : 2 ))
options=("$@")
[ ${#options[@]} -gt 0 ] || options=("--batch 512 --bf16 --compile" "--batch 2048 --bf16 --compile")

batch_of() { sed -n 's/.*--batch \([0-9]*\).*/\1/p' <<< "$1"; }
for o in "${options[@]}"; do [ -n "$(batch_of "$o")" ] || { echo "'$o' names no --batch" >&2; exit 2; }; done

best="--batch 512"; best_rate=0  # eager float32: 124 ms per step on an H200
for o in "${options[@]}"; do
  batch=$(batch_of "$o")
  rm -rf /tmp/t2x-speed
  # shellcheck disable=SC2086  # the option set is split into words on purpose
  python3 "$here/train.py" --init "$model" --out /tmp/t2x-speed --seconds 1 --calibrate 40 --eval-prompts 8 $o \
    > /tmp/t2x-speed.log 2>&1 || true
  ms=$(sed -n 's/.* \([0-9.]*\) ms\/step over.*/\1/p' /tmp/t2x-speed.log)
  rm -rf /tmp/t2x-speed
  if [ -z "$ms" ]; then echo "$o: did not run: $(tail -n 1 /tmp/t2x-speed.log)"; continue; fi
  rate=$(python3 -c "print(round($batch * 1000 / $ms))")
  echo "$o: $ms ms/step, $rate images/s"
  if [ "$rate" -gt "$best_rate" ]; then best="$o"; best_rate=$rate; fi
done
echo "training with $best for $seconds s"
# shellcheck disable=SC2086
python3 "$here/train.py" --init "$model" --out "$out" --checkpoint-dir /tmp/t2x-next --seconds "$seconds" --lr 5e-4 \
  --warmup 100 --band-share 0.4 --band-from 0.6 --band-to 0.93 $best
