using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Weights;

/// <summary>Helpers for the checkpoint tests: a temporary folder per test, random tensors, corruption runs.</summary>
public abstract class WeightFiles
{
    protected string Dir = "";
    protected Random Rng = new();

    [SetUp]
    public void MakeDir()
    {
        Dir = Path.Combine(Path.GetTempPath(), "t2x-weights-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        int seed = Environment.TickCount;
        TestContext.Out.WriteLine($"seed {seed}");
        Rng = new Random(seed);
    }

    [TearDown]
    public void RemoveDir()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }

    protected string FilePath(string name) => Path.Combine(Dir, name);

    public static readonly DType[] AllDTypes = [DType.F32, DType.F16, DType.BF16, DType.I32, DType.I64, DType.U8];

    /// <summary>A tensor of random bytes: every bit pattern of f16/bf16 must survive a round trip exactly.</summary>
    protected HostTensor RandomTensor(DType dtype, params long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        var bytes = new byte[n * dtype.Size()];
        Rng.NextBytes(bytes);
        return new HostTensor(dtype, shape, bytes);
    }

    /// <summary>A few tensors of every dtype and rank 0..4, including an empty one.</summary>
    protected List<(string, HostTensor)> MixedTensors()
    {
        var list = new List<(string, HostTensor)>();
        foreach (var dt in AllDTypes)
        {
            list.Add(($"{dt}.matrix", RandomTensor(dt, 3, 5)));
            list.Add(($"{dt}.scalar", RandomTensor(dt)));
        }
        list.Add(("conv.weight", RandomTensor(DType.BF16, 4, 3, 2, 2)));
        list.Add(("empty", RandomTensor(DType.F32, 0, 7)));
        list.Add(("blocks.0.attn.to_q.bias", RandomTensor(DType.F16, 9)));
        return list;
    }

    protected static void AssertSame(ITensorSource source, IReadOnlyList<(string name, HostTensor tensor)> expected)
    {
        Assert.That(source.Tensors.Select(t => t.Name), Is.EqualTo(expected.Select(e => e.name)), "names in order");
        foreach (var (name, want) in expected)
        {
            var info = source.Tensors.Single(t => t.Name == name);
            Assert.That(info.DType, Is.EqualTo(want.DType), $"{name} dtype");
            Assert.That(info.Shape, Is.EqualTo(want.Shape), $"{name} shape");
            var got = source.Read(name);
            Assert.That(got.DType, Is.EqualTo(want.DType), $"{name} read dtype");
            Assert.That(got.Shape, Is.EqualTo(want.Shape), $"{name} read shape");
            Assert.That(got.Bytes, Is.EqualTo(want.Bytes), $"{name} bytes");
        }
    }

    /// <summary>Opens a file and reads every tensor; returns the exception, or null when it all worked.
    /// Fails the test if it takes longer than the bound (a hang).</summary>
    protected static Exception? OpenAndReadAll(string path, int timeoutMs = 10_000)
    {
        Exception? error = null;
        var task = Task.Run(() =>
        {
            try
            {
                using var s = Checkpoint.Open(path);
                foreach (var t in s.Tensors) s.Read(t.Name);
            }
            catch (Exception e) { error = e; }
        });
        Assert.That(task.Wait(timeoutMs), Is.True, $"opening {path} did not finish within {timeoutMs} ms");
        return error;
    }

    /// <summary>Runs every damaged variant of <paramref name="good"/>: truncations must fail with InvalidDataException;
    /// byte flips must either fail with InvalidDataException or read (a flip in unchecked bytes, e.g. tensor data).</summary>
    protected void AssertCorruptionsFailCleanly(byte[] good, string extension, int truncations, int flips)
    {
        string path = FilePath("damaged" + extension);
        var cuts = Enumerable.Range(0, good.Length).ToList();
        if (cuts.Count > truncations) cuts = cuts.OrderBy(_ => Rng.Next()).Take(truncations).Append(good.Length - 1).Append(0).ToList();
        foreach (int cut in cuts)
        {
            File.WriteAllBytes(path, good[..cut]);
            var e = OpenAndReadAll(path);
            Assert.That(e, Is.InstanceOf<InvalidDataException>(), $"truncated at {cut} of {good.Length}: {e}");
            Assert.That(e!.Message, Does.Contain(path), "the message names the file");
        }
        int readOk = 0;
        for (int i = 0; i < flips; i++)
        {
            var bad = (byte[])good.Clone();
            int at = Rng.Next(bad.Length);
            bad[at] ^= (byte)(1 << Rng.Next(8));
            if (i % 4 == 3) bad[Rng.Next(bad.Length)] = (byte)Rng.Next(256);
            File.WriteAllBytes(path, bad);
            var e = OpenAndReadAll(path);
            if (e is null) readOk++;
            else Assert.That(e, Is.InstanceOf<InvalidDataException>(), $"byte flip at {at}: {e}");
        }
        TestContext.Out.WriteLine($"{cuts.Count} truncations failed cleanly; of {flips} flips, {readOk} were in unchecked bytes and read");
    }

    /// <summary>The repository root (the folder holding T2X.Vulkan.sln), found from the test binary's folder.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "T2X.Vulkan.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found above the test folder");
    }
}
