#!/usr/bin/env bash
# Issue 21's one device call: the engine on a real GPU through Vulkan, beside PyTorch CUDA in the same run.
# Needs gpu-carry/t2x-gpu.tar.xz from Tools/gpu/build.sh (self-contained t2x and test runner, Vulkan loader, validation
# layer): no .NET SDK and no Vulkan loader on the machine. On the device (one call, timeout_s 600):
#   carry ["gpu-carry"], command: bash Tools/gpu/proof.sh
# Steps, each with its own time limit inside a total budget (T2X_PROOF_BUDGET seconds, default 540):
#   1. nvidia-smi, `t2x devices`
#   2. the kernel and model tests (T2X.Tests.Kernels.*, T2X.Tests.Models.*) with the validation layer on
#      (T2X_VALIDATION=1; any validation message fails a test) -> tests.json, tests.xml
#   3. `t2x bench --json --only gemm,attention`, then Tools/gpu/torch_peer.py (torch.matmul and
#      scaled_dot_product_attention at the same shapes, f32/tf32/bf16/f16, on the same GPU) -> bench.jsonl
#   4. `t2x bench --json --only ptdit` (released-width layer at 512² and 1024², batch 2, 200 text tokens, f32 and bf16
#      weights) with its PyTorch peer on CUDA (T2X_TORCH_DEVICE=cuda, T2X_PYTHON=python3) -> ptdit.jsonl
#   5. `t2x sample` 30 steps at 1024² on a random released-width bf16 PT-DiT (28 layers; written by t2x-gpu-runner
#      sample-case in the background from the start) -> the sampling seconds in summary.json
# It unpacks into gpu-unpacked/ (ignored, not carried). Everything goes to $OUT (default /tmp/proof-out): proof.log (all output), summary.json, tests.json, tests.xml,
# bench.jsonl, ptdit.jsonl. At most 8 files come back from a device call: keep it so.
# Local check (lavapipe, the same steps, smaller): T2X_PROOF_QUICK=1 bash Tools/gpu/proof.sh
#   quick: only GemmTests and AttentionTests, `bench --quick`, torch peer --quick on cpu, ptdit --quick (512² f32, slow on
#   lavapipe: its limit is 480 s there), sample 2 layers, 256², 2 steps; the budget is then 900 s. T2X_PROOF_TESTS=REGEX overrides the tests' full-name pattern.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
OUT=${OUT:-/tmp/proof-out}
mkdir -p "$OUT"
quick=${T2X_PROOF_QUICK:-0}
budget=${T2X_PROOF_BUDGET:-$([ "$quick" = 1 ] && echo 900 || echo 555)}
start=$SECONDS
log=$OUT/proof.log
: > "$log"
say() { echo "[$(date -u +%T) +$((SECONDS - start))s] $*" | tee -a "$log"; }
steps=$OUT/.steps.jsonl
: > "$steps"

# step NAME LIMIT COMMAND...: runs COMMAND with min(LIMIT, what is left of the budget - 10 s), output to the log;
# records name, exit code and seconds.
step() {
  local name=$1 limit=$2; shift 2
  local left=$((budget - (SECONDS - start) - 10))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 5 ]; then
    say "SKIP $name: the budget is spent"
    echo "{\"step\": \"$name\", \"rc\": null, \"seconds\": 0, \"note\": \"skipped: budget spent\"}" >> "$steps"
    return 1
  fi
  say "BEGIN $name (limit ${limit} s): $*"
  local t0=$SECONDS
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] && say "TIMEOUT $name after ${limit} s"
  say "END $name: exit $rc in $((SECONDS - t0)) s"
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - t0))}" >> "$steps"
  return "$rc"
}

# --- 0. unpack the carried build; the loader, the layer, the driver ------------------------------------------------
carry=$repo/gpu-carry
archive=$carry/t2x-gpu.tar.xz
[ -f "$archive" ] || { say "no $archive: run bash Tools/gpu/build.sh first"; exit 2; }
# Unpacked inside the repository (the tests find their data from there) but outside gpu-carry/, which a device call
# carries whole: an unpacked copy there would push it over the 64 MiB limit.
x=$repo/gpu-unpacked
rm -rf "$x" && mkdir -p "$x" && tar -C "$x" -xJf "$archive" || { say "cannot unpack $archive"; exit 2; }
say "unpacked $(cat "$x/BUILD" | head -1)"
export LD_LIBRARY_PATH="$x/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VK_LAYER_PATH="$x/vulkan"
if ! { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libGLdispatch.so.0'; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$x/vulkan/glvnd"
  say "no glvnd on this machine: the carried libGLdispatch.so.0 and libGLX.so.0 are on LD_LIBRARY_PATH"
fi
# The NVIDIA ICD: where the device README says it may be, if the loader's default folders lack it.
if ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1 \
   && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  say "VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
t2x=$x/app/t2x runner=$x/app/t2x-gpu-runner
# The python that holds torch: python3 on PATH (the GPU machine's CUDA PyTorch), else Debian's /usr/bin/python3.
python=
for p in "$(command -v python3)" /usr/bin/python3; do
  if [ -n "$p" ] && "$p" -c "import torch" 2>/dev/null; then python=$p; break; fi
done
if [ -n "$python" ]; then
  torch_device=$("$python" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
else
  torch_device=none python=$(command -v python3 || echo /usr/bin/python3)
fi
say "python: $python, torch device: $torch_device"
# The tests' PyTorch cross-check (BuiltinModelTests: the GPU trainer's port) uses the same python.
[ "$torch_device" = none ] || export T2X_PYTHON=$python

if [ "$quick" = 1 ]; then
  tests=${T2X_PROOF_TESTS:-'^T2X\.Tests\.Kernels\.(GemmTests|AttentionTests)\b'}
  layers=2 px=256 nsteps=2 bq=--quick
else
  tests=${T2X_PROOF_TESTS:-'^T2X\.Tests\.(Kernels|Models)\.'}
  layers=28 px=1024 nsteps=30 bq=
fi

# The sample case (CPU work, ~1.2 GB at 28 layers) is written in the background while the tests run.
case_dir=$(mktemp -d /tmp/t2x-sample-case-XXXX)
timeout 240 "$runner" sample-case "$case_dir" --layers "$layers" --text 200 > "$OUT/.case.log" 2>&1 &
case_pid=$!

# --- 1. the device -------------------------------------------------------------------------------------------------
command -v nvidia-smi >/dev/null && step nvidia-smi 20 nvidia-smi -L
# With the validation layer on: t2x fails if the carried layer does not load.
T2X_VALIDATION=1 step devices 30 "$t2x" devices

# --- 2. kernel and model tests with the validation layer -----------------------------------------------------------
T2X_VALIDATION=1 step tests $([ "$quick" = 1 ] && echo 300 || echo 210) \
  "$runner" test --match "$tests" --xml "$OUT/tests.xml" --json "$OUT/tests.json"

# --- 3. GEMM and attention, beside torch -----------------------------------------------------------------------------
: > "$OUT/bench.jsonl"
step bench 90 bash -o pipefail -c "\"$t2x\" bench --json --only gemm,attention $bq | tee -a \"$OUT/bench.jsonl\""
if [ "$torch_device" != none ]; then
  step torch-peer 60 bash -o pipefail -c "PYTHONUNBUFFERED=1 \"$python\" Tools/gpu/torch_peer.py --device $torch_device $bq | tee -a \"$OUT/bench.jsonl\""
else
  say "SKIP torch-peer: no python3 with torch"
fi

# --- 4. the released-width PT-DiT layer at 512² and 1024², beside torch ------------------------------------------------
: > "$OUT/ptdit.jsonl"
[ "$torch_device" = none ] || export T2X_TORCH_DEVICE=$torch_device
step ptdit $([ "$quick" = 1 ] && echo 480 || echo 110) bash -o pipefail -c "\"$t2x\" bench --json --only ptdit $bq | tee -a \"$OUT/ptdit.jsonl\""

# --- 5. a 30-step 1024² sample on the random released-width model --------------------------------------------------
while kill -0 "$case_pid" 2>/dev/null && [ $((budget - (SECONDS - start))) -gt 30 ]; do sleep 1; done
kill "$case_pid" 2>/dev/null   # timeout passes it on to the writer
wait "$case_pid"; case_rc=$?
cat "$OUT/.case.log" >> "$log" 2>/dev/null
if [ "$case_rc" = 0 ]; then
  step sample 200 "$t2x" sample --transformer "$case_dir/transformer" --inputs "$case_dir/inputs.safetensors" \
    --output "$case_dir/latents.safetensors" --force --steps "$nsteps" --cfg 4.5 --height "$px" --width "$px" --seed 1
else
  say "SKIP sample: the sample case was not written ($(cat "$OUT/.case.log" 2>/dev/null | tail -2))"
fi
rm -rf "$case_dir"

# --- summary.json ----------------------------------------------------------------------------------------------------
OUT=$OUT QUICK=$quick LAYERS=$layers PX=$px NSTEPS=$nsteps TOTAL=$((SECONDS - start)) "$python" - <<'PY' 2>&1 | tee -a "$log"
import json, os, re
out = os.environ["OUT"]
def lines(name):
    try:
        return [json.loads(l) for l in open(os.path.join(out, name)) if l.strip().startswith("{")]
    except FileNotFoundError:
        return []
log = open(os.path.join(out, "proof.log"), errors="replace").read()
s = {"quick": os.environ["QUICK"] == "1", "total_s": int(os.environ["TOTAL"]),
     "steps": lines(".steps.jsonl")}
m = re.search(r"^\s*\*.*$", log, re.M)
s["device"] = m.group(0).strip() if m else None
try:
    t = json.load(open(os.path.join(out, "tests.json")))
    s["tests"] = {k: t[k] for k in ("match", "passed", "failed", "skipped", "inconclusive", "seconds")}
    s["tests"]["failures"] = [f["test"] for f in t["failures"]]
except Exception as e:
    s["tests"] = f"no tests.json ({e})"
bench = lines("bench.jsonl")
engine = {(r["op"], r.get("m"), r.get("n"), r.get("k"), r.get("dtype")): r for r in bench if r.get("op") == "gemm" and r.get("chosen", True) and "peer" not in r}
peer = {(r["op"], r.get("m"), r.get("n"), r.get("k"), r.get("dtype")): r for r in bench if r.get("peer") == "torch" and r["op"] == "gemm"}
s["gemm"] = [{"m": k[1], "n": k[2], "k": k[3], "dtype": k[4], "gflops": r["gflops"],
              "torch_gflops": peer.get(k, {}).get("gflops"),
              "torch_bf16_gflops": peer.get(("gemm",) + k[1:4] + ("bf16",), {}).get("gflops")}
             for k, r in engine.items()]
s["attention"] = [r for r in bench if r.get("op") in ("attention", "window_attention")]
s["torch_peak"] = [r for r in bench if r.get("op") == "matmul_peak"]
s["ptdit"] = [r for r in lines("ptdit.jsonl") if r.get("op") == "ptdit"]
m = re.search(r"latents \[.*?\] written to .*?\((\d+) steps, cfg [^,]+, ([0-9.]+) s\)", log)
s["sample"] = {"layers": int(os.environ["LAYERS"]), "px": int(os.environ["PX"]), "steps": int(m.group(1)) if m else int(os.environ["NSTEPS"]),
               "seconds": float(m.group(2)) if m else None}
# Estimates from the layer times, for when the sample step did not finish: 30 steps x 28 layers x the 1024² layer
# (the embeddings and the final layer left out).
s["estimated_30_step_1024_s"] = {f'{r["dtype"]}{"_torch" if key == "torch_layer_s" else ""}': round(30 * 28 * r[key], 2)
    for r in s["ptdit"] if r.get("size") == 1024 for key in ("layer_s", "torch_layer_s") if key in r}
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=1)
print("summary:", json.dumps({"device": s["device"], "tests": s["tests"] if isinstance(s["tests"], str) else {k: s["tests"][k] for k in ("passed", "failed", "skipped")},
      "sample": s["sample"], "estimated_30_step_1024_s": s["estimated_30_step_1024_s"], "steps": [(x["step"], x["rc"], x["seconds"]) for x in s["steps"]], "total_s": s["total_s"]}))
PY
rm -f "$OUT/.case.log"
mv "$steps" "$OUT/steps.jsonl" 2>/dev/null
say "done in $((SECONDS - start)) s; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
