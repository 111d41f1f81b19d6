// MSBuild task (compiled by RoslynCodeTaskFactory, not part of the trainer): marks one symbol-version
// requirement of an ELF64 shared library as weak (VER_FLG_WEAK), in place.
// Why: libLibTorchSharp.so from the TorchSharp package asks libstdc++ for GLIBCXX_3.4.32 for a single symbol
// it never calls (std::ios_base_library_init, a link-time anchor of GCC 13's <iostream>). Debian 12's
// libstdc++ stops at GLIBCXX_3.4.30, so the loader refuses the library. A weak version need is only checked
// when present, so the library loads and everything it really uses still binds with version checks.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MarkVersionWeak : Task
{
    [Required] public string File { get; set; } = "";
    [Required] public string Version { get; set; } = "";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        byte[] elf = System.IO.File.ReadAllBytes(File);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
            || elf[4] != 2 || elf[5] != 1)
        {
            Log.LogError($"{File}: not a little-endian ELF64 file");
            return false;
        }
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        int marked = 0;
        for (int s = 0; s < shnum; s++)
        {
            int sh = (int)shoff + s * shentsize;
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int strtab = (int)BitConverter.ToUInt64(elf, (int)shoff + (int)BitConverter.ToUInt32(elf, sh + 40) * shentsize + 24);
            int need = (int)BitConverter.ToUInt64(elf, sh + 24);
            int needCount = (int)BitConverter.ToUInt32(elf, sh + 44); // sh_info = number of Verneed entries
            for (int n = 0; n < needCount; n++)
            {
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int a = 0; a < BitConverter.ToUInt16(elf, need + 2); a++)
                {
                    if (CString(elf, strtab + (int)BitConverter.ToUInt32(elf, aux + 8)) == Version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                        marked++;
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                need += (int)BitConverter.ToUInt32(elf, need + 12);
            }
        }
        if (marked == 0)
        {
            Log.LogMessage(MessageImportance.High, $"{File}: no requirement of {Version}, left unchanged");
            return true;
        }
        string temp = File + ".tmp";
        System.IO.File.WriteAllBytes(temp, elf);
        System.IO.File.Replace(temp, File, null);
        Log.LogMessage(MessageImportance.High, $"{File}: marked {Version} weak");
        return true;
    }

    static string CString(byte[] bytes, int at)
    {
        int end = Array.IndexOf(bytes, (byte)0, at);
        return Encoding.ASCII.GetString(bytes, at, end - at);
    }
}
