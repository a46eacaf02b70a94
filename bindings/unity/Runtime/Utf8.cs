// Strings across the C ABI: NUL-terminated UTF-8 both ways, marshalled by hand with APIs every
// Unity scripting backend (Mono, IL2CPP) and Mono's 4.x profile have.

using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Roomlink
{
    internal static class Utf8
    {
        // Strict: a lone surrogate in a C# string is an error, not a silent U+FFFD.
        static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>The string as NUL-terminated UTF-8 for a call; null stays null (the library
        /// answers NULL with ROOMLINK_CODE_NULL_POINTER).</summary>
        /// <exception cref="ArgumentException">The string holds a NUL (C would cut it there) or
        /// a lone surrogate (not encodable as UTF-8).</exception>
        internal static byte[] Encode(string value, string parameter)
        {
            if (value == null)
            {
                return null;
            }
            if (value.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("must not contain a NUL character", parameter);
            }
            byte[] bytes;
            try
            {
                bytes = new byte[Strict.GetByteCount(value) + 1];
                Strict.GetBytes(value, 0, value.Length, bytes, 0);
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("is not valid Unicode (lone surrogate)", parameter, e);
            }
            return bytes; // the last byte is the terminating NUL
        }

        /// <summary>Copies a borrowed NUL-terminated UTF-8 string (NULL → "").</summary>
        internal static string Decode(IntPtr ptr)
        {
            if (ptr == IntPtr.Zero)
            {
                return "";
            }
            int length = 0;
            while (Marshal.ReadByte(ptr, length) != 0)
            {
                length++;
            }
            if (length == 0)
            {
                return "";
            }
            var bytes = new byte[length];
            Marshal.Copy(ptr, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }
    }
}
