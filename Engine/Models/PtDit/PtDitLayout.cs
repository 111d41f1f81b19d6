namespace T2X.Vulkan.Models.PtDit;

/// <summary>
/// The sizes of one forward pass (docs/ptdit.md §3 and §5): batch B, token grid F×H×W, windows Cf×Ch×Cw, P windows of N
/// tokens per sample, T = P·N tokens per sample, Kp proxies per window, text length L.
/// </summary>
public sealed record PtDitLayout(PtDitConfig Config, int B, int F, int H, int W, int L)
{
    public int Cf => Config.CompressRatios[0];
    public int Ch => Config.CompressRatios[1];
    public int Cw => Config.CompressRatios[2];
    public int Windows => F / Cf * (H / Ch) * (W / Cw);
    public int WindowTokens => Cf * Ch * Cw;
    public int Tokens => F * H * W;
    public int ProxiesPerWindow => Config.ProxiesPerWindow;
    public int Proxies => Windows * ProxiesPerWindow;

    /// <summary>Sequence index (window-major) of grid cell (f, r, c).</summary>
    public int Seq(int f, int r, int c)
    {
        int nh = H / Ch, nw = W / Cw;
        int window = (f / Cf * nh + r / Ch) * nw + c / Cw;
        return window * WindowTokens + (f % Cf * Ch + r % Ch) * Cw + c % Cw;
    }

    /// <summary>
    /// For every token of the batch in the normal layout, the sample whose timestep modulates it in the shifted-window
    /// branch: the official code numbers the rolled windows' rows R' = b·P + p' and uses sample R' mod B (docs/ptdit.md, quirk Q1),
    /// where p' is the rolled window that holds the token. Equals b whenever all timesteps agree.
    /// </summary>
    public int[] ShiftedRowSample()
    {
        var ids = new int[B * Tokens];
        int nh = H / Ch, nw = W / Cw;
        for (int f = 0; f < F; f++)
            for (int r = 0; r < H; r++)
                for (int c = 0; c < W; c++)
                {
                    // Rolled cell (f', r', c') holds original cell (f'+sf, r'+sh, c'+sw) mod size: invert that.
                    int fr = ((f - Cf / 2) % F + F) % F, rr = ((r - Ch / 2) % H + H) % H, cr = ((c - Cw / 2) % W + W) % W;
                    int rolledWindow = (fr / Cf * nh + rr / Ch) * nw + cr / Cw;
                    int s = Seq(f, r, c);
                    for (int b = 0; b < B; b++) ids[b * Tokens + s] = (b * Windows + rolledWindow) % B;
                }
        return ids;
    }
}
