#!/usr/bin/env bash
# Trains the built-in model (resumes from <run>/checkpoint when present); export it afterwards (README.md).
#   bash Tools/Trainer/train.sh [--run DIR] [--steps N] [--threads N] ...   (options: Tools/Trainer/README.md)
set -uo pipefail
cd "$(dirname "$0")/../.."
dotnet build Tools/Trainer/Trainer.csproj -c Release -nologo -v:q || exit 1
# Run from a private copy of the build, so rebuilding the trainer during a long run cannot disturb it.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cp -r Tools/Trainer/bin/Release/net10.0/. "$bin"
# One intra-op thread with passive OpenMP waiting: on a shared 2-core machine, spinning threads cost more than they give.
export OMP_WAIT_POLICY=PASSIVE
# TorchSharp 0.107 rarely aborts in a native scalar conversion (a use-after-free of a finalized Scalar); a long run
# then simply resumes from its last checkpoint (written every --checkpoint-every steps).
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  dotnet "$bin/t2x-train.dll" train --threads 1 "$@" && exit 0
  echo "train.sh: trainer exited with status $?; resuming from the last checkpoint (restart $attempt)" >&2
  sleep 2
done
exit 1
