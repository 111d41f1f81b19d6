namespace T2X.Vulkan.Kernels;

/// <summary>
/// Rectified-flow Euler step with classifier-free guidance (docs/ptdit.md §10.5):
/// z += dt · (u + guidance[b] · (c − u)), where the model output is [2B, Cout, F, H, W] with the conditional
/// half first and c, u are its first C channels (z is [B, C, F, H, W]). dt is read from the one-float
/// device tensor <c>dt</c>, so a recorded step is resubmitted with only that value rewritten; the guidance scale is
/// one float per sample (f32 [B] on the device), so a batch of different requests keeps each one's own.
/// Shader: Shaders/euler_cfg.comp.
/// </summary>
public static class EulerCfg
{
    const string Op = "euler_cfg";
    const uint Workgroup = 256;
    readonly record struct Push(uint B, uint C, uint Cout, uint Spatial);
    static readonly KernelDef<Push, WorkgroupSpec> Def = new(Op, Access.Read, Access.Read, Access.Read, Access.Write);

    public static void Record(Sequence seq, Tensor z, Tensor modelOutput, Tensor dt, Tensor guidance)
    {
        KernelChecks.F32(Op, "z", z);
        KernelChecks.F32(Op, "modelOutput", modelOutput);
        KernelChecks.F32(Op, "dt", dt);
        if (dt.Elements != 1) throw new ArgumentException($"{Op}: dt must hold one value, got {dt}");
        if (z.Rank < 2) throw new ArgumentException($"{Op}: z must be [B, C, ...], got {z}");
        long b = z.Dim(0), c = z.Dim(1), spatial = z.Elements / Math.Max(1, b * c);
        KernelChecks.F32(Op, "guidance", guidance);
        if (guidance.Elements != b) throw new ArgumentException($"{Op}: guidance must hold one scale per sample ({b}), got {guidance}");
        long cout = modelOutput.Rank == z.Rank ? modelOutput.Dim(1) : 0;
        var want = (long[])z.Shape.Clone();
        want[0] = 2 * b;
        want[1] = Math.Max(cout, c);
        if (cout < c || !modelOutput.Shape.AsSpan().SequenceEqual(want))
            throw new ArgumentException($"{Op}: modelOutput must be [{2 * b}, Cout ≥ {c}, {string.Join(", ", z.Shape[2..])}] for z {z}, got {modelOutput}");
        KernelChecks.Fits32(Op, "modelOutput", modelOutput.Elements);
        var (gx, gy) = Grid.Split(z.Elements, Workgroup);
        var push = checked(new Push((uint)b, (uint)c, (uint)cout, (uint)spatial));
        seq.Dispatch(Def.Get(seq.Gpu, new WorkgroupSpec(Workgroup)), [modelOutput, dt, guidance, z], push, gx, gy);
    }
}
