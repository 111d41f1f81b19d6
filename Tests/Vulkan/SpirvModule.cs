namespace T2X.Tests.Vulkan;

/// <summary>
/// The parts of a SPIR-V module that its C# declaration must match, read straight from the words (SPIR-V 1.x,
/// sections 2.3 and 3): the push-constant block's members (byte offset and scalar kind) and the specialization
/// constants (SpecId and kind). Kinds are "uint", "int", "float" and "bool".
/// </summary>
sealed class SpirvModule
{
    const uint Magic = 0x07230203;
    const int OpTypeBool = 20, OpTypeInt = 21, OpTypeFloat = 22, OpTypeVector = 23, OpTypeStruct = 30, OpTypePointer = 32;
    const int OpSpecConstantTrue = 48, OpSpecConstantFalse = 49, OpSpecConstant = 50, OpVariable = 59;
    const int OpDecorate = 71, OpMemberDecorate = 72;
    const uint DecorationSpecId = 1, DecorationOffset = 35, StorageClassPushConstant = 9;

    /// <summary>The push-constant block's members in declaration order (vectors count as their components); empty when there is none.</summary>
    public readonly List<(int offset, string kind)> PushMembers = [];
    /// <summary>Every specialization constant's kind by SpecId (the workgroup size of local_size_x_id included).</summary>
    public readonly SortedDictionary<int, string> SpecConstants = [];

    public int PushBytes => PushMembers.Count == 0 ? 0 : PushMembers.Max(m => m.offset) + 4;

    public SpirvModule(byte[] code)
    {
        var words = new uint[code.Length / 4];
        Buffer.BlockCopy(code, 0, words, 0, words.Length * 4);
        if (words.Length < 5 || words[0] != Magic) throw new FormatException("not a SPIR-V module");

        var scalar = new Dictionary<uint, string>();
        var vectors = new Dictionary<uint, (uint component, int count)>();
        var structs = new Dictionary<uint, uint[]>();
        var pointers = new Dictionary<uint, (uint storage, uint type)>();
        var specIds = new Dictionary<uint, int>();
        var memberOffsets = new Dictionary<(uint type, uint member), int>();
        var specConstants = new List<(uint id, string kind)>();
        uint pushPointer = 0;
        for (int i = 5; i < words.Length;)
        {
            int op = (int)(words[i] & 0xFFFF), count = (int)(words[i] >> 16);
            if (count == 0) throw new FormatException($"instruction of length 0 at word {i}");
            var w = words.AsSpan(i, count);
            switch (op)
            {
                case OpTypeBool: scalar[w[1]] = "bool"; break;
                case OpTypeInt: scalar[w[1]] = w[2] != 32 ? $"int{w[2]}" : w[3] == 1 ? "int" : "uint"; break;
                case OpTypeFloat: scalar[w[1]] = w[2] == 32 ? "float" : $"float{w[2]}"; break;
                case OpTypeVector: vectors[w[1]] = (w[2], (int)w[3]); break;
                case OpTypeStruct: structs[w[1]] = w[2..].ToArray(); break;
                case OpTypePointer: pointers[w[1]] = (w[2], w[3]); break;
                case OpVariable when w[3] == StorageClassPushConstant: pushPointer = w[1]; break;
                case OpDecorate when w[2] == DecorationSpecId: specIds[w[1]] = (int)w[3]; break;
                case OpMemberDecorate when w[3] == DecorationOffset: memberOffsets[(w[1], w[2])] = (int)w[4]; break;
                case OpSpecConstantTrue or OpSpecConstantFalse or OpSpecConstant: specConstants.Add((w[2], scalar[w[1]])); break;
            }
            i += count;
        }

        foreach (var (id, kind) in specConstants)
            if (specIds.TryGetValue(id, out int specId))
            {
                if (SpecConstants.TryGetValue(specId, out var seen) && seen != kind)
                    throw new FormatException($"SpecId {specId} is declared both {seen} and {kind}");
                SpecConstants[specId] = kind;
            }

        if (pushPointer == 0) return;
        uint block = pointers[pushPointer].type;
        var members = structs[block];
        for (uint m = 0; m < members.Length; m++)
        {
            int offset = memberOffsets[(block, m)];
            if (scalar.TryGetValue(members[m], out var kind)) PushMembers.Add((offset, kind));
            else if (vectors.TryGetValue(members[m], out var v))
                for (int c = 0; c < v.count; c++) PushMembers.Add((offset + 4 * c, scalar[v.component]));
            else throw new FormatException($"push-constant member {m} is neither a scalar nor a vector");
        }
    }
}
