#version 450
// Writes the letterboxed image straight into a swapchain image (storage usage; B8G8R8A8/R8G8B8A8 UNORM).
// No format qualifier: the swapchain's format is only known at run time (shaderStorageImageWriteWithoutFormat).
#include "present.glsl"
layout(binding = 1) uniform writeonly image2D dst;

void main() {
    ivec2 px = ivec2(gl_GlobalInvocationID.xy);
    if (px.x < pc.dstW && px.y < pc.dstH) imageStore(dst, px, present_color(px));
}
