#!/usr/bin/env bash
# Trains the built-in model (resumes from <run>/checkpoint when present); export it afterwards with export.sh.
#   bash Tools/Trainer/train.sh [--run DIR] [--steps N] [--threads N] ...   (options: Tools/Trainer/README.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build Tools/Trainer/Trainer.csproj -c Release -nologo -v:q
# Run from a private copy of the build, so rebuilding the trainer during a long run cannot disturb it.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cp -r Tools/Trainer/bin/Release/net10.0/. "$bin"
# One intra-op thread with passive OpenMP waiting: on a shared 2-core machine, spinning threads cost more than they give.
export OMP_WAIT_POLICY=PASSIVE
dotnet "$bin/t2x-train.dll" train --threads 1 "$@"
