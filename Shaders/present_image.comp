#version 450
// Writes the letterboxed image into an RGBA16F image that is then blitted to the swapchain: the fallback
// when swapchain images cannot be storage images (or are sRGB, or formatless writes are unsupported).
#include "present.glsl"
layout(binding = 1, rgba16f) uniform writeonly image2D dst;

void main() {
    ivec2 px = ivec2(gl_GlobalInvocationID.xy);
    if (px.x < pc.dstW && px.y < pc.dstH) imageStore(dst, px, present_color(px));
}
