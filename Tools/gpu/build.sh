#!/usr/bin/env bash
# Builds what Tools/gpu/proof.sh needs on a GPU machine that has no .NET and no Vulkan loader (the device machine:
# NVIDIA driver and PyTorch CUDA only), as ONE ignored file to carry: gpu-carry/t2x-gpu.tar.xz, holding
#   app/      t2x and t2x-gpu-runner (the NUnit suite without the SDK), published self-contained for linux-x64 into one
#             folder (they share the runtime), with the test data and the PyTorch scripts beside them
#   vulkan/   this machine's Vulkan loader (libvulkan.so.1, Debian's libvulkan1) and the Khronos validation layer
#             (libVkLayer_khronos_validation.so and its manifest, library_path made relative: use VK_LAYER_PATH);
#             vulkan/glvnd: libGLdispatch.so.0 and libGLX.so.0 (libglvnd0), for an NVIDIA ICD on a machine without glvnd
# The device call's working tree is limited to 64 MiB (carried paths included): the archive is xz-compressed and its
# size printed; the script fails if it is over 60 MiB.
#   bash Tools/gpu/build.sh            then, on the device: carry ["gpu-carry"], command "bash Tools/gpu/proof.sh"
set -euo pipefail
cd "$(dirname "$0")/../.."
out=gpu-carry stage=gpu-carry/stage
# gpu-carry/ holds the archive alone: the device call carries the whole folder.
rm -rf "$out" && mkdir -p "$stage/app" "$stage/vulkan"
clock=$SECONDS
dotnet publish Host/Host.csproj -c Release -r linux-x64 --self-contained -o "$stage/app" -nologo -v:q -p:DebugType=none
dotnet publish Tools/gpu/Runner/Runner.csproj -c Release -r linux-x64 --self-contained -o "$stage/app" -nologo -v:q -p:DebugType=none
# Debugger support and the crash dumper are not needed there.
rm -f "$stage/app/libmscordaccore.so" "$stage/app/libmscordbi.so" "$stage/app/createdump"
echo "published in $((SECONDS - clock)) s: $(du -sh "$stage/app" | cut -f1) uncompressed"

lib=/usr/lib/x86_64-linux-gnu
cp -L "$lib/libvulkan.so.1" "$stage/vulkan/libvulkan.so.1"
cp "$lib/libVkLayer_khronos_validation.so" "$stage/vulkan/"
sed 's|"library_path": *"[^"]*"|"library_path": "./libVkLayer_khronos_validation.so"|' \
  /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json > "$stage/vulkan/VkLayer_khronos_validation.json"
# glvnd's dispatch library, which NVIDIA's ICD (libGLX_nvidia.so.0) links: proof.sh adds it only where the machine lacks it.
mkdir -p "$stage/vulkan/glvnd"
cp -L "$lib/libGLdispatch.so.0" "$lib/libGLX.so.0" "$stage/vulkan/glvnd/"
{ echo "built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+changes')"
  dpkg-query -W libvulkan1 vulkan-validationlayers 2>/dev/null || true; } > "$stage/BUILD"

clock=$SECONDS
tar -C "$stage" -cf - . | xz -T0 -6 > "$out/t2x-gpu.tar.xz.tmp"
mv "$out/t2x-gpu.tar.xz.tmp" "$out/t2x-gpu.tar.xz"
rm -rf "$stage"
bytes=$(stat -c %s "$out/t2x-gpu.tar.xz")
echo "gpu-carry/t2x-gpu.tar.xz: $((bytes / 1048576)) MiB ($bytes bytes), compressed in $((SECONDS - clock)) s"
if [ "$bytes" -gt $((60 * 1048576)) ]; then echo "build.sh: over 60 MiB: the device call carries at most 64 MiB with the tree" >&2; exit 1; fi
