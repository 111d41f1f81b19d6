using System.Diagnostics;
using NUnit.Framework;
using T2X.Vulkan;
using T2X.Vulkan.Weights;

namespace T2X.Tests.Weights;

/// <summary>t2x inspect, run as the real binary from the build output.</summary>
public class InspectCommandTests : WeightFiles
{
    static (int code, string stdout, string stderr) T2x(params string[] args) => T2X.Tests.Host.T2xProcess.Run(args);

    [Test]
    public void ListsEveryTensorOfEachFormat()
    {
        var tensors = new List<(string, HostTensor)>
        {
            ("blocks.0.attn.to_q.weight", RandomTensor(DType.BF16, 6, 4)),
            ("blocks.0.attn.to_q.bias", RandomTensor(DType.F16, 6)),
            ("scale_shift_table", RandomTensor(DType.F32, 2, 3)),
        };
        SafeTensors.Write(FilePath("m.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        TorchCheckpoint.Write(FilePath("m.ckpt"), tensors, "state_dict");
        foreach (var file in new[] { "m.safetensors", "m.ckpt" })
        {
            var (code, stdout, stderr) = T2x("inspect", FilePath(file));
            Assert.That(code, Is.EqualTo(0), stderr);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToArray();
            Assert.That(lines, Is.EqualTo(new[]
            {
                "blocks.0.attn.to_q.weight\tBF16\t[6, 4]",
                "blocks.0.attn.to_q.bias\tF16\t[6]",
                "scale_shift_table\tF32\t[2, 3]",
                "3 tensors, 36 parameters, 84 bytes",
            }), file);
        }
        Assert.That(T2x("inspect", FilePath("m.safetensors")).stdout, Does.Contain("# metadata format = pt"));
        Assert.That(T2x("inspect", FilePath("m.ckpt")).stdout, Does.Contain("\"state_dict\""));
    }

    [Test]
    public void BadInputGivesAMessageAndExitCode()
    {
        var (code, _, stderr) = T2x("inspect");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("usage: t2x inspect"));

        (code, _, stderr) = T2x("inspect", FilePath("missing.pt"));
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr, Does.Contain("missing.pt"));

        File.WriteAllBytes(FilePath("bad.safetensors"), [16, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'"']);
        (code, _, stderr) = T2x("inspect", FilePath("bad.safetensors"));
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr, Does.Contain("bad.safetensors").And.Contain("header length 16 runs past the end"));

        var p = new PickleWriter();
        p.Global("os", "system");
        p.Str("true");
        p.Tuple(1);
        p.Op('R');
        using (var f = File.Create(FilePath("evil.pt")))
        {
            var zip = new ZipWriter(f);
            zip.Add("archive/data.pkl", p.Finish());
            zip.Finish();
        }
        (code, _, stderr) = T2x("inspect", FilePath("evil.pt"));
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr, Does.Contain("'os.system', which is not allowed"));
    }
}
