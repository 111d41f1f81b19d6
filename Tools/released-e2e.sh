#!/usr/bin/env bash
# The released model's shapes end to end (issues 7, 19): writes the parts with random weights in the released shapes
# and formats (T5-XXL fp16 safetensors shards, PT-DiT 1416 keys bf16 torch.save zip, VAE checkpoint.ckpt; ~12 GB),
# builds the model folder from them with `t2x import` (linked), prints the --dry-run plans for 1024² on 8 and 24 GiB
# devices, runs `t2x generate --width 256 --height 256 --steps 2 --memory-budget 8` and prints the time and device peak
# of every stage, then deletes the folders.
#   Tools/released-e2e.sh [--reduce N] [--size PX] [--dir DIR] [--dry-run-only]
#   --reduce N       divide the model widths by N (2, 4, 8; every layer and key kept): a quick check of the same path
#   --size PX        image side (default 256)
#   --dir DIR        where the folder is written (default: the temp folder; needs ~12 GB free at --reduce 1)
#   --dry-run-only   write the parts, import them and print the plans, no generation
#   --keep           keep the folders (DIR/t2x-released-e2e-PID/{downloads,model}) instead of deleting them
set -euo pipefail
cd "$(dirname "$0")/.."
reduce=1 size=256 dir="${TMPDIR:-/tmp}" dry=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reduce) reduce="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --dry-run-only) dry=1; shift ;;
    --keep) keep=1; shift ;;
    *) echo "released-e2e.sh: unknown option $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
done
dotnet build T2X.Vulkan.sln -c Release -nologo -v:q
T2X_E2E_REDUCE="$reduce" T2X_E2E_SIZE="$size" T2X_E2E_DIR="$dir" T2X_E2E_DRY_RUN_ONLY="$dry" T2X_E2E_KEEP="$keep" \
  dotnet test Tests/Tests.csproj -c Release --no-build -nologo --filter "FullyQualifiedName~ReleasedEndToEndRun" \
  --logger "console;verbosity=detailed"
