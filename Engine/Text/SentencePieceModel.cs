using System.Text;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Text;

/// <summary>Piece types of a SentencePiece model (sentencepiece_model.proto, SentencePiece.Type).</summary>
public enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

public sealed record Piece(string Text, float Score, PieceType Type = PieceType.Normal);

/// <summary>
/// A SentencePiece model file (spiece.model): the ModelProto protobuf, read and written without a protobuf library.
/// Only the fields a tokenizer needs are parsed; every other field is kept as raw bytes, so Read then Write
/// reproduces the file's content (fields in canonical order).
/// </summary>
public sealed class SentencePieceModel
{
    public List<Piece> Pieces { get; } = [];

    // TrainerSpec (field numbers from sentencepiece_model.proto; defaults as there).
    public int ModelType { get; set; } = 1;        // 1 = UNIGRAM, 2 = BPE, 3 = WORD, 4 = CHAR
    public int VocabSize { get; set; } = 8000;
    public bool ByteFallback { get; set; }
    public int UnkId { get; set; } = 0;
    public int BosId { get; set; } = 1;
    public int EosId { get; set; } = 2;
    public int PadId { get; set; } = -1;

    // NormalizerSpec.
    public string NormalizerName { get; set; } = "nmt_nfkc";
    /// <summary>The compiled normalization rules (see <see cref="CharsMap"/>); empty means identity.</summary>
    public byte[] PrecompiledCharsmap { get; set; } = [];
    public bool AddDummyPrefix { get; set; } = true;
    public bool RemoveExtraWhitespaces { get; set; } = true;
    public bool EscapeWhitespaces { get; set; } = true;

    // Fields this class does not interpret, kept verbatim per message.
    byte[] _otherModelFields = [];
    byte[] _otherTrainerFields = [];
    byte[] _otherNormalizerFields = [];

    /// <summary>The largest spiece.model read (T5's is 0.8 MB).</summary>
    public const long MaxBytes = 64L << 20;

    public static SentencePieceModel Read(string path)
    {
        try { return Parse(InputFile.ReadAllBytes(path, MaxBytes)); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: not a SentencePiece model ({e.Message})"); }
    }

    public static SentencePieceModel Parse(ReadOnlySpan<byte> data)
    {
        var m = new SentencePieceModel();
        var other = new ProtoWriter();
        var r = new ProtoReader(data);
        bool sawTrainer = false;
        while (r.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, 2): m.Pieces.Add(ParsePiece(r.Bytes())); break;
                case (2, 2): m.ParseTrainer(r.Bytes()); sawTrainer = true; break;
                case (3, 2): m.ParseNormalizer(r.Bytes()); break;
                default: r.CopyField(field, wire, other); break;
            }
        }
        if (!sawTrainer && m.Pieces.Count == 0) throw new InvalidDataException("no pieces and no trainer spec");
        m._otherModelFields = other.ToArray();
        return m;
    }

    static Piece ParsePiece(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        string text = "";
        float score = 0;
        var type = PieceType.Normal;
        while (r.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, 2): text = Encoding.UTF8.GetString(r.Bytes()); break;
                case (2, 5): score = r.Float(); break;
                case (3, 0): type = (PieceType)(int)r.Varint(); break;
                default: r.Skip(wire); break;
            }
        }
        return new Piece(text, score, type);
    }

    void ParseTrainer(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var other = new ProtoWriter();
        while (r.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (3, 0): ModelType = (int)r.Varint(); break;
                case (4, 0): VocabSize = (int)r.Varint(); break;
                case (35, 0): ByteFallback = r.Varint() != 0; break;
                case (40, 0): UnkId = (int)r.Varint(); break;
                case (41, 0): BosId = (int)r.Varint(); break;
                case (42, 0): EosId = (int)r.Varint(); break;
                case (43, 0): PadId = (int)r.Varint(); break;
                default: r.CopyField(field, wire, other); break;
            }
        }
        _otherTrainerFields = other.ToArray();
    }

    void ParseNormalizer(ReadOnlySpan<byte> data)
    {
        var r = new ProtoReader(data);
        var other = new ProtoWriter();
        while (r.Next(out int field, out int wire))
        {
            switch (field, wire)
            {
                case (1, 2): NormalizerName = Encoding.UTF8.GetString(r.Bytes()); break;
                case (2, 2): PrecompiledCharsmap = r.Bytes().ToArray(); break;
                case (3, 0): AddDummyPrefix = r.Varint() != 0; break;
                case (4, 0): RemoveExtraWhitespaces = r.Varint() != 0; break;
                case (5, 0): EscapeWhitespaces = r.Varint() != 0; break;
                default: r.CopyField(field, wire, other); break;
            }
        }
        _otherNormalizerFields = other.ToArray();
    }

    /// <summary>The model as protobuf bytes.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        foreach (var p in Pieces)
        {
            var pw = new ProtoWriter();
            pw.String(1, p.Text);
            pw.Float(2, p.Score);
            if (p.Type != PieceType.Normal) pw.Varint(3, (long)p.Type);
            w.Message(1, pw);
        }
        var t = new ProtoWriter();
        t.Varint(3, ModelType);
        t.Varint(4, VocabSize);
        t.Varint(35, ByteFallback ? 1 : 0);
        t.Varint(40, UnkId);
        t.Varint(41, BosId);
        t.Varint(42, EosId);
        t.Varint(43, PadId);
        t.Raw(_otherTrainerFields);
        w.Message(2, t);
        var n = new ProtoWriter();
        n.String(1, NormalizerName);
        n.Bytes(2, PrecompiledCharsmap);
        n.Varint(3, AddDummyPrefix ? 1 : 0);
        n.Varint(4, RemoveExtraWhitespaces ? 1 : 0);
        n.Varint(5, EscapeWhitespaces ? 1 : 0);
        n.Raw(_otherNormalizerFields);
        w.Message(3, n);
        w.Raw(_otherModelFields);
        return w.ToArray();
    }

    /// <summary>Writes the model to a file through <see cref="AtomicFile"/> (no half file; an existing file is replaced
    /// only with <paramref name="overwrite"/>).</summary>
    public void Write(string path, bool overwrite = false) => AtomicFile.Write(path, stream => stream.Write(ToBytes()), overwrite);

    /// <summary>Protobuf wire-format reader over a byte span.</summary>
    ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        readonly ReadOnlySpan<byte> _data = data;
        int _pos;

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (_pos >= _data.Length) return false;
            ulong key = Varint();
            field = (int)(key >> 3);
            wire = (int)(key & 7);
            if (field == 0) throw new InvalidDataException($"field number 0 at byte {_pos}");
            return true;
        }

        public ulong Varint()
        {
            ulong v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= _data.Length) throw new InvalidDataException("truncated varint");
                byte b = _data[_pos++];
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
            throw new InvalidDataException("varint longer than 10 bytes");
        }

        public ReadOnlySpan<byte> Bytes()
        {
            ulong n = Varint();
            if (n > (ulong)(_data.Length - _pos)) throw new InvalidDataException($"length {n} runs past the end");
            var s = _data.Slice(_pos, (int)n);
            _pos += (int)n;
            return s;
        }

        ReadOnlySpan<byte> Fixed(int n)
        {
            if (_pos + n > _data.Length) throw new InvalidDataException("truncated fixed-size field");
            var s = _data.Slice(_pos, n);
            _pos += n;
            return s;
        }

        public float Float() => BitConverter.ToSingle(Fixed(4));

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Fixed(8); break;
                case 2: Bytes(); break;
                case 5: Fixed(4); break;
                default: throw new InvalidDataException($"unsupported wire type {wire}");
            }
        }

        /// <summary>Re-emits the current field's value unchanged.</summary>
        public void CopyField(int field, int wire, ProtoWriter w)
        {
            int start = _pos;
            Skip(wire);
            w.Key(field, wire);
            w.Raw(_data[start.._pos]);
        }
    }

    /// <summary>Protobuf wire-format writer.</summary>
    sealed class ProtoWriter
    {
        readonly List<byte> _bytes = [];

        public void Key(int field, int wire) => RawVarint(((ulong)field << 3) | (uint)wire);

        void RawVarint(ulong v)
        {
            while (v >= 0x80) { _bytes.Add((byte)(v | 0x80)); v >>= 7; }
            _bytes.Add((byte)v);
        }

        // int32 fields: negative values are sign-extended to 64 bits (10 bytes), as protobuf does.
        public void Varint(int field, long v) { Key(field, 0); RawVarint((ulong)v); }
        public void Float(int field, float v) { Key(field, 5); _bytes.AddRange(BitConverter.GetBytes(v)); }
        public void Bytes(int field, ReadOnlySpan<byte> b) { Key(field, 2); RawVarint((ulong)b.Length); Raw(b); }
        public void String(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));
        public void Message(int field, ProtoWriter m) => Bytes(field, m.ToArray());
        public void Raw(ReadOnlySpan<byte> b) { foreach (var x in b) _bytes.Add(x); }
        public byte[] ToArray() => _bytes.ToArray();
    }
}
