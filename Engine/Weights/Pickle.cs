using System.Buffers.Binary;
using System.Text;

namespace T2X.Vulkan.Weights;

/// <summary>A Python dict (or OrderedDict) read from a pickle: insertion-ordered, string or integer keys.</summary>
public sealed class PyDict
{
    readonly List<KeyValuePair<object, object?>> _items = [];
    readonly Dictionary<object, int> _index = [];

    public IReadOnlyList<KeyValuePair<object, object?>> Items => _items;
    public int Count => _items.Count;

    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out int i)) _items[i] = new(key, value);
        else { _index[key] = _items.Count; _items.Add(new(key, value)); }
    }

    public object? Get(string key) => _index.TryGetValue(key, out int i) ? _items[i].Value : null;
}

/// <summary>A module-level Python name (module.name) that a pickle referred to and the caller allowed.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>An object of a class the reader does not interpret (an argparse.Namespace, a numpy array in an RNG state):
/// a placeholder that is never called and never holds weights.</summary>
public sealed record PyForeign(string Name, string? Detail = null)
{
    public override string ToString() => Name;
}

/// <summary>
/// A restricted pickle reader: a stack machine over the binary opcodes that torch.save emits (protocol 2, and the
/// few protocol 4 additions). It never imports or calls anything: globals, persistent ids and REDUCE/BUILD go to
/// the given handler, which allows only what it understands. Values are null, bool, long, double, string, byte[],
/// object?[] (tuple), List&lt;object?&gt; (list), PyDict, and whatever the handler returns.
/// Work and memory are linear in the input size and bounded by <see cref="MaxOpcodes"/>, <see cref="MaxStack"/> and
/// <see cref="MaxMemo"/> (a small deflated data.pkl can inflate to a long run of opcodes); every problem is an
/// InvalidDataException.
/// </summary>
sealed class PickleReader
{
    /// <summary>Limits far above what torch.save writes (about 30 opcodes, a few stack slots and memo entries per
    /// tensor), checked before each step, so memory stays in the tens of MiB whatever the pickle.</summary>
    public const int MaxOpcodes = 1 << 24, MaxStack = 1 << 20, MaxMemo = 1 << 22;
    int _opcodes;

    public interface IHandler
    {
        /// <summary>Resolves GLOBAL/STACK_GLOBAL; throws for names that are not allowed.</summary>
        object Global(string module, string name);
        object PersistentLoad(object? pid);
        object? Reduce(object? callable, object?[] args);
        /// <summary>Applies BUILD state to an object; returns the object.</summary>
        object? Build(object? target, object? state);
    }

    readonly byte[] _data;
    readonly string _source;
    readonly IHandler _handler;
    int _pos;
    readonly List<object?> _stack = [];
    readonly List<int> _marks = [];
    readonly Dictionary<long, object?> _memo = [];

    PickleReader(byte[] data, string source, IHandler handler)
    {
        _data = data;
        _source = source;
        _handler = handler;
    }

    public static object? Load(byte[] data, string source, IHandler handler)
    {
        int position = 0;
        return Load(data, ref position, source, handler);
    }

    /// <summary>Reads one pickle starting at <paramref name="position"/> and moves it past the STOP opcode
    /// (the legacy torch.save format is several pickles back to back).</summary>
    public static object? Load(byte[] data, ref int position, string source, IHandler handler)
    {
        var reader = new PickleReader(data, source, handler) { _pos = position };
        var result = reader.Run();
        position = reader._pos;
        return result;
    }

    InvalidDataException Bad(string problem) => new($"{_source}: {problem} (pickle offset {_pos})");

    const string TruncatedKey = "pickle-truncated";

    /// <summary>True when the error says only that the data ended before the pickle's STOP (a longer read may fix it).</summary>
    public static bool IsTruncation(InvalidDataException e) => e.Data.Contains(TruncatedKey);

    ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _data.Length - _pos)
        {
            var e = Bad("pickle data ends early (truncated?)");
            e.Data[TruncatedKey] = true;
            throw e;
        }
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    byte U8() => Take(1)[0];
    int U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    long U64()
    {
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        return v > int.MaxValue ? throw Bad($"length {v} is absurd") : (long)v;
    }

    string Utf8(long n)
    {
        try { return new UTF8Encoding(false, true).GetString(Take(n)); }
        catch (DecoderFallbackException) { throw Bad("string is not valid UTF-8"); }
    }

    string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos, Math.Min(_data.Length - _pos, 256));
        if (end < 0) throw Bad("GLOBAL name is not terminated within 256 bytes");
        string s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    object? Pop()
    {
        if (_stack.Count == 0 || _marks.Count > 0 && _stack.Count <= _marks[^1]) throw Bad("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    object? Top() => _stack.Count == 0 || _marks.Count > 0 && _stack.Count <= _marks[^1] ? throw Bad("stack underflow") : _stack[^1];

    /// <summary>Pops everything above the last MARK, and the mark.</summary>
    object?[] PopMark()
    {
        if (_marks.Count == 0) throw Bad("no MARK on the stack");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m, _stack.Count - m).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    object DictKey(object? key) => key switch
    {
        string or long => key,
        bool b => b ? 1L : 0L,
        _ => throw Bad($"dict key of type {Describe(key)} is not supported"),
    };

    void SetItems(object? target, object?[] kv)
    {
        if (target is not PyDict d) throw Bad($"SETITEM(S) on {Describe(target)}, expected a dict");
        if (kv.Length % 2 != 0) throw Bad("SETITEMS with an odd number of items");
        for (int i = 0; i < kv.Length; i += 2) d.Set(DictKey(kv[i]), kv[i + 1]);
    }

    void Append(object? target, IEnumerable<object?> items)
    {
        if (target is not List<object?> l) throw Bad($"APPEND(S) on {Describe(target)}, expected a list");
        l.AddRange(items);
    }

    void Push(object? v)
    {
        if (_stack.Count >= MaxStack) throw Bad($"more than {MaxStack} values on the pickle stack");
        _stack.Add(v);
    }

    void Remember(long index, object? v)
    {
        if (_memo.Count >= MaxMemo && !_memo.ContainsKey(index)) throw Bad($"more than {MaxMemo} memo entries");
        _memo[index] = v;
    }

    public static string Describe(object? v) => v switch
    {
        null => "None",
        string => "str",
        long => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        object?[] => "tuple",
        List<object?> => "list",
        PyDict => "dict",
        PyGlobal g => g.ToString(),
        PyForeign f => f.Name,
        _ => v.GetType().Name,
    };

    object? Run()
    {
        while (true)
        {
            int at = _pos;
            if (++_opcodes > MaxOpcodes) throw Bad($"more than {MaxOpcodes} pickle opcodes");
            byte op = U8();
            switch (op)
            {
                case 0x80: // PROTO
                    if (U8() > 5) throw Bad("pickle protocol above 5");
                    break;
                case 0x95: Take(8); break;                      // FRAME: a hint only
                case (byte)'.':                                 // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Bad("STOP with a stack that is not exactly one value");
                    return _stack[0];
                case (byte)'(':                                  // MARK
                    if (_marks.Count >= MaxStack) throw Bad($"more than {MaxStack} MARKs on the pickle stack");
                    _marks.Add(_stack.Count);
                    break;
                case (byte)'0': Pop(); break;                    // POP
                case (byte)'1': PopMark(); break;                // POP_MARK
                case (byte)'2': Push(Top()); break;              // DUP
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'K': Push((long)U8()); break;         // BININT1
                case (byte)'M': Push((long)U16()); break;        // BININT2
                case (byte)'J': Push((long)I32()); break;        // BININT
                case 0x8a: Push(Long(U8())); break;              // LONG1
                case 0x8b: Push(Long(I32())); break;             // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(U32())); break;        // BINUNICODE
                case 0x8c: Push(Utf8(U8())); break;              // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(U64())); break;             // BINUNICODE8
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(I32()))); break; // BINSTRING (Python 2 str)
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(U8()))); break;  // SHORT_BINSTRING
                case (byte)'B': Push(Take(U32()).ToArray()); break;                  // BINBYTES
                case (byte)'C': Push(Take(U8()).ToArray()); break;                   // SHORT_BINBYTES
                case 0x8e: Push(Take(U64()).ToArray()); break;                       // BINBYTES8
                case (byte)')': Push(Array.Empty<object?>()); break;                 // EMPTY_TUPLE
                case (byte)'t': Push(PopMark()); break;                              // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                             // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)']': Push(new List<object?>()); break;                    // EMPTY_LIST
                case (byte)'l': Push(new List<object?>(PopMark())); break;           // LIST
                case (byte)'a': { var v = Pop(); Append(Top(), [v]); break; }        // APPEND
                case (byte)'e': { var items = PopMark(); Append(Top(), items); break; } // APPENDS
                case (byte)'}': Push(new PyDict()); break;                           // EMPTY_DICT
                case (byte)'d': { var d = new PyDict(); SetItems(d, PopMark()); Push(d); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(Top(), [k, v]); break; } // SETITEM
                case (byte)'u': { var kv = PopMark(); SetItems(Top(), kv); break; }  // SETITEMS
                case (byte)'c': { string m = Line(); string n = Line(); Push(_handler.Global(m, n)); break; } // GLOBAL
                case 0x93:                                                           // STACK_GLOBAL
                {
                    var n = Pop(); var m = Pop();
                    if (m is not string ms || n is not string ns) throw Bad("STACK_GLOBAL needs two strings");
                    Push(_handler.Global(ms, ns));
                    break;
                }
                case (byte)'Q': Push(_handler.PersistentLoad(Pop())); break;         // BINPERSID
                case (byte)'R':                                                      // REDUCE
                {
                    var args = Pop();
                    var f = Pop();
                    if (args is not object?[] tuple) throw Bad($"REDUCE arguments are a {Describe(args)}, expected a tuple");
                    Push(_handler.Reduce(f, tuple));
                    break;
                }
                case (byte)'b': { var state = Pop(); Push(_handler.Build(Pop(), state)); break; } // BUILD
                case 0x81:                                                           // NEWOBJ: cls.__new__(cls, *args)
                {
                    var args = Pop();
                    var cls = Pop();
                    if (args is not object?[] tuple) throw Bad($"NEWOBJ arguments are a {Describe(args)}, expected a tuple");
                    Push(_handler.Reduce(cls, tuple));
                    break;
                }
                case 0x92:                                                           // NEWOBJ_EX: the same with keyword arguments
                {
                    Pop();
                    var args = Pop();
                    var cls = Pop();
                    if (args is not object?[] tuple) throw Bad($"NEWOBJ_EX arguments are a {Describe(args)}, expected a tuple");
                    Push(_handler.Reduce(cls, tuple));
                    break;
                }
                case (byte)'q': Remember(U8(), Top()); break;                        // BINPUT
                case (byte)'r': Remember(U32(), Top()); break;                       // LONG_BINPUT
                case 0x94: Remember(_memo.Count, Top()); break;                      // MEMOIZE
                case (byte)'h': Push(Memo(U8())); break;                             // BINGET
                case (byte)'j': Push(Memo(U32())); break;                            // LONG_BINGET
                default:
                    _pos = at;
                    throw Bad($"opcode 0x{op:x2} ('{(op is >= 32 and < 127 ? (char)op : '?')}') is not supported: torch.save never writes it");
            }
        }
    }

    object? Memo(long index) => _memo.TryGetValue(index, out var v) ? v : throw Bad($"memo index {index} was never stored");

    long Long(int n)
    {
        if (n < 0) throw Bad("negative LONG length");
        var b = Take(n);
        if (n > 8) throw Bad($"integer of {n} bytes does not fit 64 bits");
        if (n == 0) return 0;
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
        int unused = 64 - 8 * n;
        return unused == 0 ? v : v << unused >> unused;           // sign-extend two's complement
    }
}

/// <summary>Emits the protocol 2 opcodes a Python pickler writes for the same values.</summary>
sealed class PickleWriter
{
    readonly MemoryStream _out = new();

    public PickleWriter() { _out.WriteByte(0x80); _out.WriteByte(2); }

    public byte[] Finish() { _out.WriteByte((byte)'.'); return _out.ToArray(); }

    public void Op(char op) => _out.WriteByte((byte)op);
    public void Op(byte op) => _out.WriteByte(op);

    public void Global(string module, string name)
    {
        Op('c');
        _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    public void Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        Op('X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)b.Length);
        _out.Write(n);
        _out.Write(b);
    }

    public void Int(long v)
    {
        if (v is >= 0 and < 256) { Op('K'); _out.WriteByte((byte)v); }
        else if (v is >= 0 and < 65536) { Op('M'); _out.WriteByte((byte)v); _out.WriteByte((byte)(v >> 8)); }
        else if (v is >= int.MinValue and <= int.MaxValue)
        {
            Op('J');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            _out.Write(b);
        }
        else
        {
            // LONG1: the shortest little-endian two's complement form.
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, v);
            int n = 8;
            while (n > 1 && (b[n - 1] == 0 && (b[n - 2] & 0x80) == 0 || b[n - 1] == 0xFF && (b[n - 2] & 0x80) != 0)) n--;
            Op(0x8a);
            _out.WriteByte((byte)n);
            _out.Write(b[..n]);
        }
    }

    public void Float(double v)
    {
        Op('G');
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, v);
        _out.Write(b);
    }

    public void Bool(bool v) => Op(v ? (byte)0x88 : (byte)0x89);
    public void None() => Op('N');
    public void Mark() => Op('(');

    /// <summary>Closes a tuple of n items pushed after a Mark() (n &gt; 3) or without one (n &lt;= 3).</summary>
    public void Tuple(int n)
    {
        switch (n)
        {
            case 0: Op(')'); break;
            case 1: Op(0x85); break;
            case 2: Op(0x86); break;
            case 3: Op(0x87); break;
            default: Op('t'); break;
        }
    }

    public void IntTuple(long[] values)
    {
        if (values.Length > 3) Mark();
        foreach (var v in values) Int(v);
        Tuple(values.Length);
    }
}
