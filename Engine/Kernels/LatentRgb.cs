namespace T2X.Vulkan.Kernels;

/// <summary>
/// rgb [3, H, W] = projection [3, C + 1] · (latent [C, H, W], 1): a linear latent-to-RGB map, the cheap preview a
/// latent model hands the viewer after each sampler step (the VAE decodes only the final image). The projection's
/// last column is the bias; its coefficients belong to the VAE (fitted to its decoder). Shader: Shaders/latent_rgb.comp.
/// </summary>
public static class LatentRgb
{
    const string Op = "latent_rgb";
    const uint Workgroup = 256;
    readonly record struct Push(uint Pixels, uint Channels);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor latent, Tensor projection, Tensor rgb)
    {
        KernelChecks.F32(Op, "latent", latent);
        KernelChecks.F32(Op, "projection", projection);
        KernelChecks.F32(Op, "rgb", rgb);
        if (latent.Rank != 3) throw new ArgumentException($"{Op}: latent must be [C, H, W], got {latent}");
        long c = latent.Dim(0), h = latent.Dim(1), w = latent.Dim(2);
        KernelChecks.Positive(Op, "the channels of latent", c);
        KernelChecks.Shape(Op, "projection", projection, 3, c + 1);
        KernelChecks.Shape(Op, "rgb", rgb, 3, h, w);
        KernelChecks.Fits32(Op, "latent", latent.Elements);
        var (gx, gy) = Grid.Split(h * w, Workgroup);
        seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [latent, projection, rgb], checked(new Push((uint)(h * w), (uint)c)), gx, gy);
    }
}
