#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages T2X.Vulkan needs when they are missing (with sudo when not root):
# the Vulkan loader, Mesa's lavapipe (Vulkan on any CPU), the validation layer, glslc (shader compiler),
# cmake (runs shaders.cmake), OpenBLAS (benchmark baseline), GLFW + Xvfb (viewer and its test), chromium (the serve
# page test) and python3-torch (the cross-checks against PyTorch and the bench's PyTorch baseline).
# On Debian 12 lavapipe comes from bookworm-backports (Mesa 25): measured side by side with Debian 12's Mesa 22.3
# (Tools/compare-mesa.sh) it runs bf16/f16 GEMMs 15-25% and attention up to 25% faster and offers the machine's
# memory as one heap (22.3: 2 GiB). T2X_MESA=stock keeps the distribution's Mesa.
set -euo pipefail
need=(mesa-vulkan-drivers libvulkan1 vulkan-validationlayers glslc cmake libopenblas0 libglfw3 xvfb xauth chromium python3-torch)
command -v dotnet >/dev/null 2>&1 || { echo "the .NET 10 SDK is required (https://dotnet.microsoft.com/download; Debian/Ubuntu package dotnet-sdk-10.0)" >&2; exit 1; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done

# Debian 12: Mesa 25 from bookworm-backports unless it is there already (or T2X_MESA=stock).
backports=false
if [ "${T2X_MESA:-backports}" != stock ] && grep -qs '^VERSION_CODENAME=bookworm$' /etc/os-release; then
  mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  case "$mesa" in 2[5-9].*|[3-9][0-9].*) ;; *) backports=true ;; esac
fi

[ ${#missing[@]} -eq 0 ] && [ "$backports" = false ] && exit 0
if [ "$backports" = true ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "adding bookworm-backports to apt's sources (for Mesa 25's lavapipe)"
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
$sudo apt-get update -qq || echo "warning: apt-get update failed; installing from the lists apt has" >&2
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "$backports" = true ]; then
  echo "installing: mesa-vulkan-drivers from bookworm-backports (Mesa 25; with the newer libdrm it needs)"
  $sudo apt-get install -y -qq mesa-vulkan-drivers/bookworm-backports >/dev/null \
    || echo "warning: Mesa 25 from bookworm-backports did not install; keeping Debian 12's Mesa" >&2
fi
