namespace Engine.Kernels;

/// <summary>
/// The sizes of one 2-D convolution or pooling window sweep over an NHWC input, with TensorFlow's
/// padding rule: SAME gives <c>out = ceil(in / s)</c> and pads <c>max((out - 1)·s + k - in, 0)</c>,
/// the smaller half before (top/left); VALID gives <c>out = floor((in - k) / s) + 1</c>.
/// </summary>
/// <param name="InputHeight">H of the input.</param>
/// <param name="InputWidth">W of the input.</param>
/// <param name="Channels">C of the input.</param>
/// <param name="KernelHeight">KH of the window.</param>
/// <param name="KernelWidth">KW of the window.</param>
/// <param name="StrideHeight">Stride along H.</param>
/// <param name="StrideWidth">Stride along W.</param>
/// <param name="OutputHeight">OH.</param>
/// <param name="OutputWidth">OW.</param>
/// <param name="PadTop">Rows of padding before the first input row.</param>
/// <param name="PadLeft">Columns of padding before the first input column.</param>
public readonly record struct ConvGeometry(
    int InputHeight, int InputWidth, int Channels,
    int KernelHeight, int KernelWidth, int StrideHeight, int StrideWidth,
    int OutputHeight, int OutputWidth, int PadTop, int PadLeft)
{
    /// <summary>KH · KW · C: the length of one im2col row.</summary>
    public int PatchLength => KernelHeight * KernelWidth * Channels;

    /// <summary>OH · OW.</summary>
    public int OutputPixels => OutputHeight * OutputWidth;

    /// <summary>H · W · C.</summary>
    public int InputLength => InputHeight * InputWidth * Channels;

    /// <summary>Computes the geometry; returns null when the window does not fit (VALID with k &gt; in).</summary>
    public static ConvGeometry? TryCreate(int inputHeight, int inputWidth, int channels, Size2 kernel, Size2 strides, Padding padding)
    {
        var (outputHeight, padTop) = OutputSize(inputHeight, kernel.Height, strides.Height, padding);
        var (outputWidth, padLeft) = OutputSize(inputWidth, kernel.Width, strides.Width, padding);
        if (outputHeight < 1 || outputWidth < 1)
        {
            return null;
        }
        return new ConvGeometry(inputHeight, inputWidth, channels, kernel.Height, kernel.Width,
            strides.Height, strides.Width, outputHeight, outputWidth, padTop, padLeft);
    }

    /// <summary>The output size and the padding before, along one axis.</summary>
    public static (int Output, int PadBefore) OutputSize(int input, int kernel, int stride, Padding padding)
    {
        if (padding == Padding.Valid)
        {
            return (input < kernel ? 0 : (input - kernel) / stride + 1, 0);
        }
        int output = (input + stride - 1) / stride;
        int padTotal = Math.Max((output - 1) * stride + kernel - input, 0);
        return (output, padTotal / 2);
    }
}
