// The C callbacks: static methods (IL2CPP can only call back into static methods marked
// [MonoPInvokeCallback]) that copy the borrowed arguments into managed values and hand them to the
// engine behind user_data (a GCHandle to the RoomlinkEngine). They run on roomlink's event thread;
// no exception may unwind into native code.

using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using AOT;

namespace Roomlink
{
    internal static class NativeCallbacks
    {
        // Static fields: the delegates (and so the function pointers given to native code) live as
        // long as the process.
        static readonly Native.RoomStateChangedFn StateChanged = OnRoomStateChanged;
        static readonly Native.RoomUserUpdateFn UserUpdate = OnRoomUserUpdate;
        static readonly Native.RoomOnlineUserCountUpdateFn CountUpdate = OnRoomOnlineUserCountUpdate;
        static readonly Native.RoomStreamUpdateFn StreamUpdate = OnRoomStreamUpdate;
        static readonly Native.RoomTokenWillExpireFn TokenWillExpire = OnRoomTokenWillExpire;
        static readonly Native.ReleasedFn Released = OnReleased;

        static readonly int KvSize = Marshal.SizeOf(typeof(Native.Kv));
        static readonly int UserSize = Marshal.SizeOf(typeof(Native.User));
        static readonly int StreamSize = Marshal.SizeOf(typeof(Native.Stream));

        /// <summary>The handler table for one engine (copied by roomlink_engine_create).</summary>
        internal static Native.EventHandler Table(IntPtr userData)
        {
            return new Native.EventHandler
            {
                user_data = userData,
                on_room_state_changed = Marshal.GetFunctionPointerForDelegate(StateChanged),
                on_room_user_update = Marshal.GetFunctionPointerForDelegate(UserUpdate),
                on_room_online_user_count_update = Marshal.GetFunctionPointerForDelegate(CountUpdate),
                on_room_stream_update = Marshal.GetFunctionPointerForDelegate(StreamUpdate),
                on_room_token_will_expire = Marshal.GetFunctionPointerForDelegate(TokenWillExpire),
                on_released = Marshal.GetFunctionPointerForDelegate(Released),
            };
        }

        static RoomlinkEngine Engine(IntPtr userData)
        {
            return (RoomlinkEngine)GCHandle.FromIntPtr(userData).Target;
        }

        static T At<T>(IntPtr array, int size, uint index)
        {
            return (T)Marshal.PtrToStructure(new IntPtr(array.ToInt64() + size * (long)index), typeof(T));
        }

        static RoomlinkUser UserOf(Native.User u)
        {
            return new RoomlinkUser(Utf8.Decode(u.user_id), Utf8.Decode(u.user_name));
        }

        [MonoPInvokeCallback(typeof(Native.RoomStateChangedFn))]
        static void OnRoomStateChanged(IntPtr userData, IntPtr roomId, uint reason, int errorCode,
            IntPtr extendedData, uint extendedDataLen)
        {
            try
            {
                // Sorted by key, as the library sends it and every platform shows it.
                var data = new SortedDictionary<string, string>(StringComparer.Ordinal);
                for (uint i = 0; i < extendedDataLen; i++)
                {
                    var kv = At<Native.Kv>(extendedData, KvSize, i);
                    data[Utf8.Decode(kv.key)] = Utf8.Decode(kv.value);
                }
                Engine(userData).RaiseRoomStateChanged(Utf8.Decode(roomId),
                    (RoomStateChangedReason)reason, errorCode, data);
            }
            catch (Exception e)
            {
                RoomlinkLog.Exception(e);
            }
        }

        [MonoPInvokeCallback(typeof(Native.RoomUserUpdateFn))]
        static void OnRoomUserUpdate(IntPtr userData, IntPtr roomId, uint updateType, IntPtr users,
            uint userCount)
        {
            try
            {
                var list = new RoomlinkUser[userCount];
                for (uint i = 0; i < userCount; i++)
                {
                    list[i] = UserOf(At<Native.User>(users, UserSize, i));
                }
                Engine(userData).RaiseRoomUserUpdate(Utf8.Decode(roomId), (UpdateType)updateType,
                    new ReadOnlyCollection<RoomlinkUser>(list));
            }
            catch (Exception e)
            {
                RoomlinkLog.Exception(e);
            }
        }

        [MonoPInvokeCallback(typeof(Native.RoomOnlineUserCountUpdateFn))]
        static void OnRoomOnlineUserCountUpdate(IntPtr userData, IntPtr roomId, uint count)
        {
            try
            {
                Engine(userData).RaiseRoomOnlineUserCountUpdate(Utf8.Decode(roomId), count);
            }
            catch (Exception e)
            {
                RoomlinkLog.Exception(e);
            }
        }

        [MonoPInvokeCallback(typeof(Native.RoomStreamUpdateFn))]
        static void OnRoomStreamUpdate(IntPtr userData, IntPtr roomId, uint updateType,
            IntPtr streams, uint streamCount, int streamDeleteReason)
        {
            try
            {
                var list = new RoomlinkStream[streamCount];
                for (uint i = 0; i < streamCount; i++)
                {
                    var s = At<Native.Stream>(streams, StreamSize, i);
                    list[i] = new RoomlinkStream(Utf8.Decode(s.stream_id), UserOf(s.user),
                        Utf8.Decode(s.extra_info));
                }
                StreamDeleteReason? reason = null;
                if (streamDeleteReason != Native.StreamDeleteReasonNone)
                {
                    reason = (StreamDeleteReason)streamDeleteReason;
                }
                Engine(userData).RaiseRoomStreamUpdate(Utf8.Decode(roomId), (UpdateType)updateType,
                    new ReadOnlyCollection<RoomlinkStream>(list), reason);
            }
            catch (Exception e)
            {
                RoomlinkLog.Exception(e);
            }
        }

        [MonoPInvokeCallback(typeof(Native.RoomTokenWillExpireFn))]
        static void OnRoomTokenWillExpire(IntPtr userData, IntPtr roomId, uint remainingSeconds)
        {
            try
            {
                Engine(userData).RaiseRoomTokenWillExpire(Utf8.Decode(roomId), remainingSeconds);
            }
            catch (Exception e)
            {
                RoomlinkLog.Exception(e);
            }
        }

        // Called exactly once, after the engine's last callback returned: the GCHandle is freed
        // here and nowhere else (also right for a destroy made from inside a callback, which
        // returns before the engine's last events are delivered).
        [MonoPInvokeCallback(typeof(Native.ReleasedFn))]
        static void OnReleased(IntPtr userData)
        {
            try
            {
                RoomlinkEngine.FreeHandle(GCHandle.FromIntPtr(userData));
            }
            catch (Exception e)
            {
                RoomlinkLog.Exception(e);
            }
        }
    }
}
