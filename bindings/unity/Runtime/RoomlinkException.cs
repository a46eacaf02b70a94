using System;

namespace Roomlink
{
    /// <summary>A roomlink call failed; nothing changed (the C ABI's contract). <see cref="Code"/>
    /// is the number every roomlink platform reports for the case (ZEGO's 1002xxx where ZEGO has
    /// one, roomlink's own 19000xx; the README's "Error codes" table).</summary>
    public sealed class RoomlinkException : Exception
    {
        /// <summary>The roomlink error code, e.g. 1002001.</summary>
        public int Code { get; private set; }

        /// <summary>The code's constant name, e.g. "ALREADY_LOGGED_IN" ("UNKNOWN" if this library
        /// version does not know it).</summary>
        public string Name { get; private set; }

        internal RoomlinkException(int code)
            : base(code + " " + Utf8.Decode(Native.roomlink_error_name(code)) + ": "
                + Utf8.Decode(Native.roomlink_error_message(code)))
        {
            Code = code;
            Name = Utf8.Decode(Native.roomlink_error_name(code));
        }

        /// <summary>Throws for a non-zero result code.</summary>
        internal static void Check(int code)
        {
            if (code != Native.CodeOk)
            {
                throw new RoomlinkException(code);
            }
        }
    }
}
