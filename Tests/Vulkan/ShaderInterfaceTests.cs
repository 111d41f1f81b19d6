using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NUnit.Framework;
using T2X.Tests.Weights;
using T2X.Vulkan;
using T2X.Vulkan.Kernels;

namespace T2X.Tests.Vulkan;

/// <summary>
/// Every embedded SPIR-V module against its C# declaration (<see cref="KernelDef{TPush, TSpec}"/>): the push-constant
/// block's size, member offsets and types against the kernel's Push struct, and the SpecIds and their types against its
/// specialization record (field i is SpecId i). Also the shared constants of Shaders/include/constants.glsl against
/// <see cref="ShaderConstants"/>. A mismatch here would otherwise surface as garbage results or a validation message.
/// </summary>
public sealed class ShaderInterfaceTests
{
    static readonly Assembly Engine = typeof(Gpu).Assembly;

    /// <summary>Every static KernelDef field in the Engine assembly.</summary>
    static IEnumerable<IKernelDef> Declarations() => Engine.GetTypes()
        .Where(t => !t.ContainsGenericParameters)
        .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
        .Where(f => typeof(IKernelDef).IsAssignableFrom(f.FieldType))
        .Select(f => (IKernelDef)f.GetValue(null)!);

    static IEnumerable<TestCaseData> Cases() =>
        Declarations().Select(d => new TestCaseData(d).SetArgDisplayNames(d.Shader));

    static IEnumerable<string> EmbeddedShaders() =>
        Engine.GetManifestResourceNames().Where(n => n.EndsWith(".spv")).Select(n => n[..^".spv".Length]);

    static SpirvModule Module(string shader)
    {
        using var s = Engine.GetManifestResourceStream(shader + ".spv")!;
        var code = new byte[s.Length];
        s.ReadExactly(code);
        return new SpirvModule(code);
    }

    /// <summary>The 4-byte fields of a struct in memory order, nested structs flattened, with their shader kinds.</summary>
    static List<(int offset, string kind)> Fields(Type type, int start = 0)
    {
        var fields = new List<(int offset, string kind)>();
        foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                     .OrderBy(f => Marshal.OffsetOf(type, f.Name)))
        {
            int offset = start + (int)Marshal.OffsetOf(type, f.Name);
            string? kind = f.FieldType == typeof(uint) ? "uint" : f.FieldType == typeof(int) ? "int"
                : f.FieldType == typeof(float) ? "float" : f.FieldType == typeof(Bool32) ? "bool" : null;
            if (kind is not null) fields.Add((offset, kind));
            else if (f.FieldType.IsValueType && !f.FieldType.IsPrimitive) fields.AddRange(Fields(f.FieldType, offset));
            else throw new NotSupportedException($"{type.Name}.{f.Name}: {f.FieldType.Name} has no shader counterpart");
        }
        return fields;
    }

    [Test]
    public void EveryEmbeddedShaderIsDeclaredOnce()
    {
        var declared = Declarations().Select(d => d.Shader).ToList();
        Assert.That(declared, Is.Unique, "one KernelDef per shader");
        Assert.That(declared, Is.EquivalentTo(EmbeddedShaders()), "KernelDefs vs embedded .spv modules");
    }

    [TestCaseSource(nameof(Cases))]
    public void PushConstantsMatchTheShader(IKernelDef kernel)
    {
        var module = Module(kernel.Shader);
        Assert.That(kernel.Layout.PushBytes, Is.EqualTo(module.PushBytes), $"{kernel.Shader}: push-constant bytes");
        Assert.That(Fields(kernel.PushType), Is.EqualTo(module.PushMembers),
            $"{kernel.Shader}: push-constant members (byte offset, type) of {kernel.PushType.Name} vs the shader's block");
    }

    [TestCaseSource(nameof(Cases))]
    public void SpecializationConstantsMatchTheShader(IKernelDef kernel)
    {
        var module = Module(kernel.Shader);
        var declared = Fields(kernel.SpecType).Select((f, i) => (specId: i, f.kind)).ToList();
        Assert.That(Fields(kernel.SpecType).Select(f => f.offset), Is.EqualTo(declared.Select(d => 4 * d.specId)), "4 bytes per constant");
        Assert.That(declared, Is.EqualTo(module.SpecConstants.Select(c => (specId: c.Key, kind: c.Value)).ToList()),
            $"{kernel.Shader}: (SpecId, type) of {kernel.SpecType.Name} vs the shader's constant_id / local_size_x_id");
    }

    [Test]
    public void SharedConstantsMatchTheInclude()
    {
        var text = File.ReadAllText(Path.Combine(WeightFiles.RepoRoot(), "Shaders", "include", "constants.glsl"));
        var glsl = new Dictionary<string, double>();
        foreach (Match m in Regex.Matches(text, @"^\s*(?:#define\s+(\w+)\s+|const\s+\w+\s+(\w+)\s*=\s*)(-?[\d.]+)", RegexOptions.Multiline))
            glsl[(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).Replace("_", "").ToLowerInvariant()] =
                double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        var csharp = typeof(ShaderConstants).GetFields(BindingFlags.Public | BindingFlags.Static)
            .ToDictionary(f => f.Name.ToLowerInvariant(), f => Convert.ToDouble(f.GetRawConstantValue(), CultureInfo.InvariantCulture));
        Assert.That(glsl, Is.Not.Empty);
        Assert.That(csharp, Is.EquivalentTo(glsl), "ShaderConstants vs Shaders/include/constants.glsl (names without case and underscores)");
    }
}
