using System.Buffers.Binary;

namespace Engine.Tests.Reliability;

/// <summary>How an integer field is stored.</summary>
internal enum FieldEncoding
{
    Int32BigEndian,
    UInt32LittleEndian,
}

/// <summary>An integer field of a format's header: where it is and how it is stored.</summary>
internal readonly record struct HeaderField(int Offset, FieldEncoding Encoding);

/// <summary>
/// Byte-level mutations of a valid file: bit flips, byte sets, insertions, deletions, truncation, chunk copies,
/// and header integer fields set to hostile values (0, -1, int.MaxValue, huge products, ...). Every mutation is a
/// pure function of the random source, so an input is reproducible from the seed and its index.
/// </summary>
internal static class Mutator
{
    /// <summary>Values a header field is set to: edge cases and sizes whose products overflow 32 and 64 bits.</summary>
    private static readonly int[] HostileValues =
    [
        0, -1, 1, 2, int.MaxValue, int.MinValue, int.MaxValue - 1, 0x7FFFFFC7 /* Array.MaxLength */, 0x10000,
        46341 /* 46341² > int.MaxValue */, 65536, 0x40000000, 255, 256, 1 << 24, -2,
    ];

    /// <summary>Applies 1 to 3 random mutations to a copy of <paramref name="original"/> and returns it with a short description.</summary>
    public static (byte[] Bytes, string Description) Mutate(byte[] original, IReadOnlyList<HeaderField> fields, ref FuzzRandom random)
    {
        var bytes = new List<byte>(original);
        int mutations = random.Chance(70) ? 1 : random.Next(2, 4);
        var description = new List<string>(mutations);
        for (int index = 0; index < mutations; index++)
        {
            description.Add(MutateOnce(bytes, fields, ref random));
        }
        return (bytes.ToArray(), string.Join(" + ", description));
    }

    private static string MutateOnce(List<byte> bytes, IReadOnlyList<HeaderField> fields, ref FuzzRandom random)
    {
        int kind = random.Next(10);
        if (bytes.Count == 0)
        {
            kind = 3;
        }
        switch (kind)
        {
            case 0:
            case 1:
            {
                int flips = random.Chance(60) ? 1 : random.Next(2, 9);
                int offset = random.Next(bytes.Count);
                for (int flip = 0; flip < flips; flip++)
                {
                    int at = random.Chance(50) ? offset : random.Next(bytes.Count);
                    bytes[at] ^= (byte)(1 << random.Next(8));
                }
                return $"flip {flips} bit(s) near {offset}";
            }
            case 2:
            {
                int offset = random.Next(bytes.Count);
                byte value = random.Chance(50) ? (byte)random.Next(256) : random.Pick(new byte[] { 0x00, 0xFF, 0x7F, 0x80, 0x01 });
                bytes[offset] = value;
                return $"set byte {offset} = 0x{value:X2}";
            }
            case 3:
            {
                int offset = random.Next(bytes.Count + 1);
                int count = random.Next(1, 17);
                for (int index = 0; index < count; index++)
                {
                    bytes.Insert(offset, random.Chance(30) ? (byte)0 : (byte)random.Next(256));
                }
                return $"insert {count} at {offset}";
            }
            case 4:
            {
                int offset = random.Next(bytes.Count);
                int count = Math.Min(random.Next(1, 17), bytes.Count - offset);
                bytes.RemoveRange(offset, count);
                return $"delete {count} at {offset}";
            }
            case 5:
            {
                int length = random.Next(bytes.Count);
                bytes.RemoveRange(length, bytes.Count - length);
                return $"truncate to {length}";
            }
            case 6:
            {
                int count = random.Next(1, 33);
                int from = random.Next(bytes.Count);
                int to = random.Next(bytes.Count);
                count = Math.Min(count, Math.Min(bytes.Count - from, bytes.Count - to));
                byte[] chunk = bytes.GetRange(from, count).ToArray();
                for (int index = 0; index < count; index++)
                {
                    bytes[to + index] = chunk[index];
                }
                return $"copy {count} from {from} to {to}";
            }
            default:
            {
                if (fields.Count == 0)
                {
                    goto case 0;
                }
                HeaderField field = random.Pick(fields);
                int value = random.Chance(80) ? random.Pick(HostileValues) : (int)random.NextUInt64();
                if (field.Offset + 4 > bytes.Count)
                {
                    return "field past the end (no-op)";
                }
                SetField(bytes, field, value);
                return $"field {field.Offset} = {value}";
            }
        }
    }

    public static void SetField(List<byte> bytes, HeaderField field, int value)
    {
        Span<byte> encoded = stackalloc byte[4];
        if (field.Encoding == FieldEncoding.Int32BigEndian)
        {
            BinaryPrimitives.WriteInt32BigEndian(encoded, value);
        }
        else
        {
            BinaryPrimitives.WriteInt32LittleEndian(encoded, value);
        }
        for (int index = 0; index < 4; index++)
        {
            bytes[field.Offset + index] = encoded[index];
        }
    }
}
