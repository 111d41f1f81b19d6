#!/usr/bin/env bash
# Measures the installed lavapipe against Mesa 25 from Debian bookworm-backports, side by side in one run: the
# backports driver is unpacked into a folder (nothing is installed) and selected with VK_ICD_FILENAMES, and the two
# take turns on the same benchmarks, so the shared machine's swings hit both alike.
# Usage: bash Tools/compare-mesa.sh [rounds] [t2x bench options...]   (default: 3 rounds of the GEMM headline shape
# and the quick attention set). Prints one line per measured row with the driver's Mesa version in front.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; shift || true
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(--only gemm,attention --quick --gemm 4096x1152x4608 --repeats 3)

dir=${MESA25_DIR:-$HOME/.cache/t2x/mesa25}
if [ ! -f "$dir/lvp_icd.json" ]; then
  grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ ||
    { echo "add bookworm-backports to apt's sources first (deb http://deb.debian.org/debian bookworm-backports main)" >&2; exit 1; }
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports)
  mkdir -p "$dir"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dir"; done
  rm -rf "$tmp"
  sed "s#\"library_path\": \"libvulkan_lvp.so\"#\"library_path\": \"$dir/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so\"#" \
    "$dir/usr/share/vulkan/icd.d/lvp_icd.json" > "$dir/lvp_icd.json.tmp" && mv "$dir/lvp_icd.json.tmp" "$dir/lvp_icd.json"
fi

dotnet build Host/Host.csproj -c Release -nologo -v:q >/dev/null
t2x=(dotnet Host/bin/Release/net10.0/t2x.dll)
installed=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)
for round in $(seq "$rounds"); do
  "${t2x[@]}" bench "${bench_args[@]}" | sed "s/^/mesa $installed  round $round  /"
  VK_ICD_FILENAMES="$dir/lvp_icd.json" LD_LIBRARY_PATH="$dir/usr/lib/x86_64-linux-gnu" \
    "${t2x[@]}" bench "${bench_args[@]}" | sed "s/^/mesa 25-backports  round $round  /"
done
