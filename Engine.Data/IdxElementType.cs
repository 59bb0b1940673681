namespace Engine.Data;

/// <summary>The element type of an IDX file: the third byte of its magic number.</summary>
public enum IdxElementType : byte
{
    /// <summary>Unsigned 8-bit integers (MNIST's images and labels).</summary>
    UnsignedByte = 0x08,

    /// <summary>Signed 8-bit integers.</summary>
    SignedByte = 0x09,

    /// <summary>Big-endian signed 16-bit integers.</summary>
    Int16 = 0x0B,

    /// <summary>Big-endian signed 32-bit integers.</summary>
    Int32 = 0x0C,

    /// <summary>Big-endian IEEE 754 single-precision floats.</summary>
    Single = 0x0D,

    /// <summary>Big-endian IEEE 754 double-precision floats.</summary>
    Double = 0x0E,
}
