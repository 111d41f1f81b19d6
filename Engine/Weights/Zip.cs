using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Microsoft.Win32.SafeHandles;
using T2X.Vulkan.Files;

namespace T2X.Vulkan.Weights;

/// <summary>
/// The subset of the zip format that torch.save archives use: reads the central directory (zip64 included)
/// and gives byte ranges of stored entries without reading the rest of the file; deflated entries are
/// decompressed on demand. Every structural problem is an InvalidDataException naming the file.
/// </summary>
sealed class ZipReader : IDisposable
{
    public sealed record Entry(string Name, int Method, long CompressedSize, long Size, uint Crc, long LocalHeaderOffset);

    readonly SafeFileHandle _file;
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _dataOffsets = new(StringComparer.Ordinal);
    public readonly string Path;
    public readonly long Length;
    public readonly IReadOnlyList<Entry> Entries;
    readonly Dictionary<string, Entry> _byName = new(StringComparer.Ordinal);

    // Limits that keep a hostile central directory from asking for unbounded work.
    const int MaxEntries = 10_000_000;
    const int MaxCommentSearch = 0xFFFF + 22;

    public ZipReader(string path)
    {
        Path = path;
        _file = InputFile.OpenHandle(path);
        try
        {
            Length = RandomAccess.GetLength(_file);
            Entries = ReadCentralDirectory();
            foreach (var e in Entries)
                if (!_byName.TryAdd(e.Name, e)) throw Bad($"entry '{e.Name}' appears twice");
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    public Entry? Find(string name) => _byName.GetValueOrDefault(name);

    InvalidDataException Bad(string problem) => new($"{Path}: not a valid zip archive: {problem}");

    byte[] ReadAt(long offset, int count, string what)
    {
        if (offset < 0 || count < 0 || offset > Length - count) throw Bad($"{what} lies outside the file ({Length} bytes)");
        var buffer = new byte[count];
        int got = RandomAccess.Read(_file, buffer, offset);
        while (got < count)
        {
            int n = RandomAccess.Read(_file, buffer.AsSpan(got), offset + got);
            if (n == 0) throw Bad($"{what}: file ended early");
            got += n;
        }
        return buffer;
    }

    List<Entry> ReadCentralDirectory()
    {
        if (Length < 22) throw Bad("too short for an end-of-central-directory record");
        int tailLength = (int)Math.Min(Length, MaxCommentSearch);
        var tail = ReadAt(Length - tailLength, tailLength, "end of file");
        int eocd = -1;
        for (int i = tailLength - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == 0x06054b50) { eocd = i; break; }
        if (eocd < 0) throw Bad("no end-of-central-directory record (truncated?)");
        long eocdOffset = Length - tailLength + eocd;
        var r = tail.AsSpan(eocd);
        long count = BinaryPrimitives.ReadUInt16LittleEndian(r[10..]);
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(r[12..]);
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(r[16..]);
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            // zip64: a locator just before the record points at the zip64 end-of-central-directory record.
            if (eocdOffset < 20) throw Bad("zip64 locator missing");
            var loc = ReadAt(eocdOffset - 20, 20, "zip64 locator");
            if (BinaryPrimitives.ReadUInt32LittleEndian(loc) != 0x07064b50) throw Bad("zip64 locator missing");
            long z64 = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(loc.AsSpan(8)), long.MaxValue);
            var rec = ReadAt(z64, 56, "zip64 end-of-central-directory record");
            if (BinaryPrimitives.ReadUInt32LittleEndian(rec) != 0x06064b50) throw Bad("zip64 end-of-central-directory record missing");
            count = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(32)), long.MaxValue);
            cdSize = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(40)), long.MaxValue);
            cdOffset = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(rec.AsSpan(48)), long.MaxValue);
        }
        if (count > MaxEntries) throw Bad($"{count} entries is more than the {MaxEntries} allowed");
        if (cdSize > int.MaxValue || cdSize < 46 * count) throw Bad($"central directory size {cdSize} does not fit {count} entries");
        var cd = ReadAt(cdOffset, (int)cdSize, "central directory");
        var entries = new List<Entry>((int)Math.Min(count, 100_000));
        int p = 0;
        for (long i = 0; i < count; i++)
        {
            if (p + 46 > cd.Length || BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(p)) != 0x02014b50)
                throw Bad($"central directory entry {i} is damaged");
            var h = cd.AsSpan(p);
            int method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            long csize = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            long usize = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long local = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            if (p + 46 + nameLen + extraLen + commentLen > cd.Length) throw Bad($"central directory entry {i} runs past the directory");
            string name = DecodeName(cd.AsSpan(p + 46, nameLen), i);
            // zip64 extended information replaces the fields that hold 0xFFFFFFFF, in this order.
            var extra = cd.AsSpan(p + 46 + nameLen, extraLen);
            while (extra.Length >= 4)
            {
                int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
                int len = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
                if (4 + len > extra.Length) throw Bad($"entry '{name}': extra field runs past its end");
                if (id == 1)
                {
                    var z = extra.Slice(4, len);
                    long Next(ref ReadOnlySpan<byte> s)
                    {
                        if (s.Length < 8) throw Bad($"entry '{name}': zip64 field is too short");
                        long v = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(s), long.MaxValue);
                        s = s[8..];
                        return v;
                    }
                    ReadOnlySpan<byte> zs = z;
                    if (usize == 0xFFFFFFFF) usize = Next(ref zs);
                    if (csize == 0xFFFFFFFF) csize = Next(ref zs);
                    if (local == 0xFFFFFFFF) local = Next(ref zs);
                }
                extra = extra[(4 + len)..];
            }
            if (method != 0 && method != 8) throw Bad($"entry '{name}' uses compression method {method} (only stored and deflate are supported)");
            if (method == 0 && csize != usize) throw Bad($"stored entry '{name}' has compressed size {csize} != size {usize}");
            // Deflate cannot compress by more than about 1032:1; a larger claim is a lie (or a bomb).
            if (method == 8 && usize > csize * 1032 + 1024) throw Bad($"deflated entry '{name}' claims {usize} bytes from {csize}");
            if (local < 0 || local > cdOffset || csize > cdOffset - local) throw Bad($"entry '{name}' lies outside the archive data");
            entries.Add(new Entry(name, method, csize, usize, crc, local));
            p += 46 + nameLen + extraLen + commentLen;
        }
        return entries;
    }

    string DecodeName(ReadOnlySpan<byte> bytes, long index)
    {
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Bad($"entry {index} has a name that is not UTF-8"); }
    }

    /// <summary>Where an entry's data starts (after its local header).</summary>
    long DataOffset(Entry e)
    {
        if (_dataOffsets.TryGetValue(e.Name, out long cached)) return cached;
        var h = ReadAt(e.LocalHeaderOffset, 30, $"local header of '{e.Name}'");
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != 0x04034b50) throw Bad($"local header of '{e.Name}' is damaged");
        long start = e.LocalHeaderOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(26)) + BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(28));
        if (start > Length - e.CompressedSize) throw Bad($"data of '{e.Name}' runs past the end of the file (truncated?)");
        _dataOffsets[e.Name] = start;
        return start;
    }

    /// <summary>Reads destination.Length bytes of an entry's uncompressed data starting at <paramref name="offset"/>.
    /// A read of the whole entry is checked against the entry's CRC-32.</summary>
    public void Read(Entry e, long offset, Span<byte> destination)
    {
        long count = destination.Length;
        if (offset < 0 || offset > e.Size - count) throw Bad($"read of {count} bytes at {offset} is outside entry '{e.Name}' ({e.Size} bytes)");
        long start = DataOffset(e);
        if (e.Method == 0)
        {
            int done = 0;
            while (done < count)
            {
                int n = RandomAccess.Read(_file, destination[done..], start + offset + done);
                if (n == 0) throw Bad($"data of '{e.Name}' ends early (truncated?)");
                done += n;
            }
        }
        else
        {
            using var inflate = new DeflateStream(new RangeStream(_file, start, e.CompressedSize), CompressionMode.Decompress);
            try
            {
                Skip(inflate, offset, e);
                inflate.ReadExactly(destination);
            }
            catch (Exception x) when (x is EndOfStreamException or InvalidDataException)
            {
                throw Bad($"deflated data of '{e.Name}' is damaged or shorter than {e.Size} bytes");
            }
        }
        if (offset == 0 && count == e.Size && System.IO.Hashing.Crc32.HashToUInt32(destination) != e.Crc)
            throw Bad($"entry '{e.Name}' fails its CRC-32 check (damaged data)");
    }

    /// <summary>Hints that a range of an entry's data will be read soon (stored entries only: a deflated one is not a byte
    /// range of the file); never throws. Where the data starts is known only after its local header is read, which on a
    /// cold disk would wait behind the hints already queued; until then the hint starts at the header and spans the
    /// header's fixed part, the name and up to <see cref="HintedExtra"/> bytes of extra field too.</summary>
    public void Hint(Entry e, long offset, long count)
    {
        if (e.Method != 0 || offset < 0 || count <= 0 || offset > e.Size - count) return;
        if (_dataOffsets.TryGetValue(e.Name, out long start)) ReadAhead.Hint(_file, start + offset, count);
        else ReadAhead.Hint(_file, e.LocalHeaderOffset + offset, 30 + Encoding.UTF8.GetByteCount(e.Name) + HintedExtra + count);
    }

    /// <summary>Extra-field bytes a hint covers before it knows the local header: torch.save pads data to 64 bytes,
    /// plus a ZIP64 record.</summary>
    const int HintedExtra = 128;

    public byte[] ReadAll(Entry e, long maxBytes)
    {
        if (e.Size > maxBytes) throw Bad($"entry '{e.Name}' is {e.Size} bytes, more than the {maxBytes} expected at most");
        var bytes = new byte[e.Size];
        Read(e, 0, bytes);
        return bytes;
    }

    void Skip(Stream s, long count, Entry e)
    {
        var scratch = new byte[64 << 10];
        while (count > 0)
        {
            int n = s.Read(scratch, 0, (int)Math.Min(scratch.Length, count));
            if (n == 0) throw Bad($"deflated data of '{e.Name}' is shorter than {e.Size} bytes");
            count -= n;
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>A read-only forward stream over a byte range of the file (leaves the handle open).</summary>
    sealed class RangeStream(SafeFileHandle file, long start, long length) : Stream
    {
        long _position;
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= length) return 0;
            int n = RandomAccess.Read(file, buffer.AsSpan(offset, (int)Math.Min(count, length - _position)), start + _position);
            _position += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>
/// Writes a zip of stored (uncompressed) entries the way PyTorch's writer does: each entry's data aligned to
/// 64 bytes with an "FB" padding extra field, zip64 records where sizes or offsets need them.
/// </summary>
sealed class ZipWriter(Stream output) : IDisposable
{
    const int Alignment = 64;
    readonly List<(byte[] name, long size, uint crc, long offset)> _entries = [];
    bool _finished;

    /// <summary>Writes zip64 fields even when the sizes fit 32 bits (to test the zip64 path on small files).</summary>
    internal bool ForceZip64 { get; init; }

    public void Add(string name, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        long offset = output.Position;
        uint crc = System.IO.Hashing.Crc32.HashToUInt32(data);
        bool zip64 = ForceZip64 || offset >= 0xFFFFFFFF; // a span's length (an int) never needs zip64
        int zip64Len = zip64 ? 4 + 16 : 0;
        long unpadded = offset + 30 + nameBytes.Length + zip64Len + 4;
        int padding = (int)((Alignment - unpadded % Alignment) % Alignment);

        Span<byte> h = stackalloc byte[30];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], (ushort)(zip64 ? 45 : 20));
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 0);          // flags
        BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0);          // stored
        BinaryPrimitives.WriteUInt16LittleEndian(h[10..], 0);         // time
        BinaryPrimitives.WriteUInt16LittleEndian(h[12..], 0x21);      // date 1980-01-01
        BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(h[18..], zip64 ? 0xFFFFFFFF : (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h[22..], zip64 ? 0xFFFFFFFF : (uint)data.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(zip64Len + 4 + padding));
        output.Write(h);
        output.Write(nameBytes);
        if (zip64)
        {
            Span<byte> z = stackalloc byte[20];
            BinaryPrimitives.WriteUInt16LittleEndian(z, 1);
            BinaryPrimitives.WriteUInt16LittleEndian(z[2..], 16);
            BinaryPrimitives.WriteUInt64LittleEndian(z[4..], (ulong)data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(z[12..], (ulong)data.Length);
            output.Write(z);
        }
        Span<byte> fb = stackalloc byte[4 + Alignment];
        fb[0] = (byte)'F'; fb[1] = (byte)'B';
        BinaryPrimitives.WriteUInt16LittleEndian(fb[2..], (ushort)padding);
        fb[4..].Fill((byte)'Z');
        output.Write(fb[..(4 + padding)]);
        output.Write(data);
        _entries.Add((nameBytes, data.Length, crc, offset));
    }

    /// <summary>Writes the central directory; the stream then holds a complete archive.</summary>
    public void Finish()
    {
        if (_finished) return;
        _finished = true;
        long cdStart = output.Position;
        Span<byte> h = stackalloc byte[46], z = stackalloc byte[4 + 24];
        foreach (var (name, size, crc, offset) in _entries)
        {
            bool bigSize = ForceZip64 || size >= 0xFFFFFFFF, bigOffset = ForceZip64 || offset >= 0xFFFFFFFF;
            int zip64Len = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0);
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], (ushort)(zip64Len > 0 ? 45 : 20));
            BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(h[10..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(h[12..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(h[14..], 0x21);
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], bigSize ? 0xFFFFFFFF : (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[24..], bigSize ? 0xFFFFFFFF : (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[30..], (ushort)(zip64Len > 0 ? zip64Len + 4 : 0));
            h[32..42].Clear();                                          // comment, disk, attributes
            BinaryPrimitives.WriteUInt32LittleEndian(h[42..], bigOffset ? 0xFFFFFFFF : (uint)offset);
            output.Write(h);
            output.Write(name);
            if (zip64Len > 0)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(z, 1);
                BinaryPrimitives.WriteUInt16LittleEndian(z[2..], (ushort)zip64Len);
                int p = 4;
                if (bigSize) { BinaryPrimitives.WriteUInt64LittleEndian(z[p..], (ulong)size); BinaryPrimitives.WriteUInt64LittleEndian(z[(p + 8)..], (ulong)size); p += 16; }
                if (bigOffset) { BinaryPrimitives.WriteUInt64LittleEndian(z[p..], (ulong)offset); p += 8; }
                output.Write(z[..p]);
            }
        }
        long cdEnd = output.Position, cdSize = cdEnd - cdStart;
        bool zip64End = ForceZip64 || _entries.Count >= 0xFFFF || cdStart >= 0xFFFFFFFF || cdSize >= 0xFFFFFFFF;
        if (zip64End)
        {
            Span<byte> r = stackalloc byte[56 + 20];
            BinaryPrimitives.WriteUInt32LittleEndian(r, 0x06064b50);
            BinaryPrimitives.WriteUInt64LittleEndian(r[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(r[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(r[14..], 45);
            BinaryPrimitives.WriteUInt32LittleEndian(r[16..], 0);
            BinaryPrimitives.WriteUInt32LittleEndian(r[20..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(r[24..], (ulong)_entries.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(r[32..], (ulong)_entries.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(r[40..], (ulong)cdSize);
            BinaryPrimitives.WriteUInt64LittleEndian(r[48..], (ulong)cdStart);
            BinaryPrimitives.WriteUInt32LittleEndian(r[56..], 0x07064b50);
            BinaryPrimitives.WriteUInt32LittleEndian(r[60..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(r[64..], (ulong)cdEnd);
            BinaryPrimitives.WriteUInt32LittleEndian(r[72..], 1);
            output.Write(r);
        }
        Span<byte> e = stackalloc byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(e, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(e[4..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(e[6..], 0);
        ushort n16 = zip64End ? (ushort)0xFFFF : (ushort)_entries.Count;
        BinaryPrimitives.WriteUInt16LittleEndian(e[8..], n16);
        BinaryPrimitives.WriteUInt16LittleEndian(e[10..], n16);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], zip64End ? 0xFFFFFFFF : (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(e[16..], zip64End ? 0xFFFFFFFF : (uint)cdStart);
        BinaryPrimitives.WriteUInt16LittleEndian(e[20..], 0);
        output.Write(e);
    }

    public void Dispose() { }
}
