using NUnit.Framework;
using T2X.Tests.Reference;
using T2X.Vulkan;
using T2X.Vulkan.Models.T5;
using T2X.Vulkan.Weights;
using static T2X.Tests.Models.T5TestModel;

namespace T2X.Tests.Models;

/// <summary>The T5 encoder with its blocks streamed (uploaded one at a time during the encode), as the released
/// pipeline runs T5-XXL on devices smaller than its 9.5 GB of weights.</summary>
public sealed class T5StreamedTests : GpuTest
{
    [Test]
    public void StreamedEncodeMatchesTheReferenceAndHoldsOneBlockAtATime()
    {
        // d_ff large enough that one block's weights dwarf the activations, so "one block at a time" shows in the peak.
        var c = Tiny(layers: 3) with { DModel = 64, DKv = 16, NumHeads = 4, DFf = 512, VocabSize = 64 };
        var weights = RandomWeights(c, DType.F16, new Random(21));
        string dir = Path.Combine(Path.GetTempPath(), "t2x-t5s-" + Guid.NewGuid().ToString("N"));
        WriteFolder(dir, c, weights, shards: 2);
        try
        {
            const int length = 19;
            var (ids, mask) = Batch(new Random(22), c.VocabSize, length, 19, 6);
            float[] Encode(bool stream, out long peak, out long resident)
            {
                long before = Gpu.AllocatedBytes;
                using var encoder = T5Encoder.Load(Gpu, dir, streamBlocks: stream);
                Assert.That(encoder.Streamed, Is.EqualTo(stream));
                resident = encoder.WeightBytes;
                Gpu.ResetPeak();
                using var y = encoder.Encode(ids, mask, 2, length);
                peak = Gpu.PeakBytes - before;
                return y.ToArray();
            }
            var streamed = Encode(true, out long streamedPeak, out long streamedResident);
            var kept = Encode(false, out long keptPeak, out long keptResident);
            Assert.That(streamed, Is.EqualTo(kept), "the same kernels on the same weights: the same bits");
            var want = T5Reference.Forward(c, weights, ids, mask, 2, length);
            Check.Close(streamed, want, 1e-5, "last_hidden_state");

            // Bytes computed here from the checkpoint's tensors: the embedding + final norm, and one block (f16).
            long Bytes(Func<string, bool> which) => weights.Where(kv => which(kv.Key) && !kv.Key.Contains("relative_attention_bias")).Sum(kv => (long)kv.Value.Bytes.Length);
            long block = Bytes(n => n.StartsWith("encoder.block.1."));
            long outside = Bytes(n => !n.StartsWith("encoder.block."));
            long all = Bytes(_ => true);
            Assert.That(streamedResident, Is.InRange(outside, outside + 4096), "streamed: only the embedding and final norm stay");
            Assert.That(keptResident, Is.InRange(all, all + 64 * 256), "kept: every weight");
            long activations = keptPeak - keptResident;
            TestContext.Out.WriteLine($"weights {all} B (one block {block} B), peak kept {keptPeak} B, streamed {streamedPeak} B");
            Assert.That(streamedPeak, Is.LessThanOrEqualTo(outside + block + activations + 16 * 256), "at most one block's weights at a time");
            Assert.That(streamedPeak, Is.LessThan(keptPeak - block), "streaming saves at least a block");
        }
        finally { Directory.Delete(dir, true); }
    }
}
