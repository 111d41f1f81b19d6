#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages T2X.Vulkan needs when they are missing (with sudo when not root):
# the Vulkan loader, Mesa's lavapipe (Vulkan on any CPU), the validation layer, glslc (shader compiler),
# cmake (runs shaders.cmake), OpenBLAS (benchmark baseline), GLFW + Xvfb (viewer and its test).
set -euo pipefail
need=(mesa-vulkan-drivers libvulkan1 vulkan-validationlayers glslc cmake libopenblas0 libglfw3 xvfb xauth)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
command -v dotnet >/dev/null 2>&1 || { echo "the .NET 10 SDK is required (https://dotnet.microsoft.com/download; Debian/Ubuntu package dotnet-sdk-10.0)" >&2; exit 1; }
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
