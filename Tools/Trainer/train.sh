#!/usr/bin/env bash
# Trains the built-in model (resumes from <run>/checkpoint when present), then exports it.
#   bash Tools/Trainer/train.sh [--run DIR] [--steps N] [--threads N] ...   (options: Tools/Trainer/README.md)
# One intra-op thread with passive OpenMP waiting: on a shared 2-core machine, spinning threads cost more than they give.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build Tools/Trainer/Trainer.csproj -c Release -nologo -v:q
export OMP_WAIT_POLICY=PASSIVE
dotnet Tools/Trainer/bin/Release/net10.0/t2x-train.dll train --threads 1 "$@"
