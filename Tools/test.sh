#!/usr/bin/env bash
# The test command: builds everything and runs the NUnit suite on the default Vulkan device
# (lavapipe on a CPU-only machine) with the Khronos validation layer on.
# Prints "tests: N passed, M failed" last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
dotnet build T2X.Vulkan.sln -c Release -nologo -v:q || { echo "tests: 0 passed, 1 failed"; exit 1; }
dotnet test Tests/Tests.csproj -c Release --no-build -nologo --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
rc=$?
trx="$results/results.trx"
if [ -f "$trx" ]; then
  passed=$(grep -o 'passed="[0-9]*"' "$trx" | head -1 | grep -o '[0-9]*')
  failed=$(grep -o 'failed="[0-9]*"' "$trx" | head -1 | grep -o '[0-9]*')
  echo "tests: ${passed:-0} passed, ${failed:-0} failed"
else
  echo "tests: 0 passed, 1 failed"
  rc=1
fi
exit $rc
