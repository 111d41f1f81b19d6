namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// How a PT-DiT block mixes visual tokens.
/// <list type="bullet">
/// <item><c>Proxy</c>: the released model (docs/ptdit.md §7): proxy tokens, proxy self-attention, proxy-to-visual
/// injection, window attention, shifted-window attention, text cross-attention, feed-forward.</item>
/// <item><c>Global</c>: for measuring the paper's efficiency claim on one engine, the block becomes a PixArt-α / DiT
/// block. Step 3 (window attention, attn1 weights, its adaLN modulation and gate) attends over ALL tokens of a
/// sample instead of one window. The proxy branch (proxy_attn1, pvisual_attn2, linear_1_visual: steps 1–2) and the
/// shifted-window branch (attn3, linear_2, proxy_scale_shift_table: step 4) are skipped entirely: their weights are
/// not used (a checkpoint may omit them). Text cross-attention, feed-forward, embeddings and the final layer are
/// unchanged. The hidden state keeps the window-major token order, which full attention does not see.
/// </item>
/// </list>
/// </summary>
public enum AttentionMode { Proxy, Global }
