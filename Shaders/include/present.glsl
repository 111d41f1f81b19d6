// Shared by present_swapchain.comp and present_image.comp: the colour of one window pixel when an
// image in [-1, 1] (f32 RGBA texels [H, W, 4], see present_pack.comp) is scaled into the window with its
// aspect ratio kept (letterbox).
// Inside the image rectangle: bilinear sampling at pixel centres (clamped at the edges), then the same
// 8-bit rounding as saved PNGs: floor((clamp(x, -1, 1) + 1) / 2 * 255 + 0.5). Outside: a dark grey.
layout(local_size_x_id = 0, local_size_y_id = 1) in;   // sizes from Presenter.cs
layout(binding = 0, rgba32f) uniform readonly imageBuffer src;   // texel loads: the fast path on lavapipe (docs/lavapipe.md §1)
layout(push_constant) uniform P {
    int srcW, srcH;                   // image size
    int dstW, dstH;                   // window (swapchain) size
    int rectX, rectY, rectW, rectH;   // where the image goes in the window
    int linearOut;                    // 1: write linear values (the blit into an sRGB swapchain encodes them)
} pc;

const float BACKGROUND = 24.0 / 255.0;

vec3 fetch(int x, int y) {
    x = clamp(x, 0, pc.srcW - 1);
    y = clamp(y, 0, pc.srcH - 1);
    return imageLoad(src, y * pc.srcW + x).rgb;
}

vec3 srgb_to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), greaterThan(c, vec3(0.04045)));
}

vec4 present_color(ivec2 px) {
    vec3 c = vec3(BACKGROUND);
    ivec2 r = px - ivec2(pc.rectX, pc.rectY);
    if (r.x >= 0 && r.y >= 0 && r.x < pc.rectW && r.y < pc.rectH) {
        vec2 s = (vec2(r) + 0.5) * vec2(pc.srcW, pc.srcH) / vec2(pc.rectW, pc.rectH) - 0.5;
        ivec2 i = ivec2(floor(s));
        vec2 f = s - vec2(i);
        vec3 top = mix(fetch(i.x, i.y), fetch(i.x + 1, i.y), f.x);
        vec3 bottom = mix(fetch(i.x, i.y + 1), fetch(i.x + 1, i.y + 1), f.x);
        c = floor((clamp(mix(top, bottom, f.y), -1.0, 1.0) + 1.0) * 0.5 * 255.0 + 0.5) / 255.0;
    }
    if (pc.linearOut != 0) c = srgb_to_linear(c);
    return vec4(c, 1.0);
}
