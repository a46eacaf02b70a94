// Copies the library's borrowed arrays (a callback's arguments, a polled event's fields) into
// managed values, the same way for both delivery paths, so an engine-thread handler and a
// main-thread handler see identical values.

using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Runtime.InteropServices;

namespace Roomlink
{
    internal static class NativeCopy
    {
        static readonly int KvSize = Marshal.SizeOf(typeof(Native.Kv));
        static readonly int UserSize = Marshal.SizeOf(typeof(Native.User));
        static readonly int StreamSize = Marshal.SizeOf(typeof(Native.Stream));

        static T At<T>(IntPtr array, int size, uint index)
        {
            return (T)Marshal.PtrToStructure(new IntPtr(array.ToInt64() + size * (long)index), typeof(T));
        }

        static RoomlinkUser UserOf(Native.User u)
        {
            return new RoomlinkUser(Utf8.Decode(u.user_id), Utf8.Decode(u.user_name));
        }

        /// <summary>A state change's extended data, sorted by key as the library sends it and
        /// every platform shows it.</summary>
        internal static IReadOnlyDictionary<string, string> ExtendedData(IntPtr pairs, uint len)
        {
            var data = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (uint i = 0; i < len; i++)
            {
                var kv = At<Native.Kv>(pairs, KvSize, i);
                data[Utf8.Decode(kv.key)] = Utf8.Decode(kv.value);
            }
            return data;
        }

        internal static IReadOnlyList<RoomlinkUser> Users(IntPtr users, uint count)
        {
            var list = new RoomlinkUser[count];
            for (uint i = 0; i < count; i++)
            {
                list[i] = UserOf(At<Native.User>(users, UserSize, i));
            }
            return new ReadOnlyCollection<RoomlinkUser>(list);
        }

        internal static IReadOnlyList<RoomlinkStream> Streams(IntPtr streams, uint count)
        {
            var list = new RoomlinkStream[count];
            for (uint i = 0; i < count; i++)
            {
                var s = At<Native.Stream>(streams, StreamSize, i);
                list[i] = new RoomlinkStream(Utf8.Decode(s.stream_id), UserOf(s.user),
                    Utf8.Decode(s.extra_info));
            }
            return new ReadOnlyCollection<RoomlinkStream>(list);
        }

        /// <summary>null for an Add (ROOMLINK_STREAM_DELETE_REASON_NONE).</summary>
        internal static StreamDeleteReason? DeleteReason(int reason)
        {
            if (reason == Native.StreamDeleteReasonNone)
            {
                return null;
            }
            return (StreamDeleteReason)reason;
        }
    }
}
