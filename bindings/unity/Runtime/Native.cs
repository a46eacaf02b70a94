// The C ABI (bindings/c/roomlink.h), declared for P/Invoke. Mechanical: one declaration per
// exported function, struct and constant the package uses, with the header's names; no logic.
// Strings cross as pointers to UTF-8 (see Utf8.cs) so the package does not depend on
// UnmanagedType.LPUTF8Str or Marshal.PtrToStringUTF8, which older Unity profiles lack.

using System;
using System.Runtime.InteropServices;

namespace Roomlink
{
    internal static class Native
    {
        // iOS links the static library into the player: P/Invoke resolves against the process.
#if UNITY_IOS && !UNITY_EDITOR
        internal const string Lib = "__Internal";
#else
        internal const string Lib = "roomlink_ffi";
#endif

        /// <summary>ROOMLINK_ABI_VERSION of the header these declarations were written from.</summary>
        internal const uint AbiVersion = 2;

        internal const int CodeOk = 0;
        internal const int CodeInvalidArgument = 1900004;
        internal const int CodeEngineDestroyed = 1900005;

        internal const int StreamDeleteReasonNone = -1;

        [StructLayout(LayoutKind.Sequential)]
        internal struct EngineConfig
        {
            internal IntPtr server_url;
            internal uint room_mode;
            internal ulong heartbeat_interval_ms;
            internal ulong ping_timeout_ms;
            internal ulong login_timeout_ms;
            internal ulong retry_window_ms;
            internal ulong backoff_base_ms;
            internal ulong backoff_cap_ms;
            internal ulong token_warning_ms;
            internal ulong max_frame_bytes;
            internal IntPtr proxy_url;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Kv
        {
            internal IntPtr key;
            internal IntPtr value;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct User
        {
            internal IntPtr user_id;
            internal IntPtr user_name;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Stream
        {
            internal IntPtr stream_id;
            internal User user;
            internal IntPtr extra_info;
        }

        /// <summary>roomlink_event_handler: function pointers as IntPtr (from
        /// Marshal.GetFunctionPointerForDelegate over static delegates, the IL2CPP-safe way).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct EventHandler
        {
            internal IntPtr user_data;
            internal IntPtr on_room_state_changed;
            internal IntPtr on_room_user_update;
            internal IntPtr on_room_online_user_count_update;
            internal IntPtr on_room_stream_update;
            internal IntPtr on_room_token_will_expire;
            internal IntPtr on_released;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RoomStateChangedFn(IntPtr userData, IntPtr roomId, uint reason,
            int errorCode, IntPtr extendedData, uint extendedDataLen);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RoomUserUpdateFn(IntPtr userData, IntPtr roomId, uint updateType,
            IntPtr users, uint userCount);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RoomOnlineUserCountUpdateFn(IntPtr userData, IntPtr roomId, uint count);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RoomStreamUpdateFn(IntPtr userData, IntPtr roomId, uint updateType,
            IntPtr streams, uint streamCount, int streamDeleteReason);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RoomTokenWillExpireFn(IntPtr userData, IntPtr roomId, uint remainingSeconds);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void ReleasedFn(IntPtr userData);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogFn(IntPtr userData, uint level, IntPtr target, IntPtr message);

        // byte[] arguments are NUL-terminated UTF-8 (Utf8.Encode); a blittable array is pinned for
        // the call and passed as a pointer to its first byte; null passes NULL.

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_engine_config_default(out EngineConfig config);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_engine_create(ref EngineConfig config,
            ref EventHandler handler, out ulong engine);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_engine_destroy(ulong engine);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_login_room(ulong engine, byte[] roomId, byte[] userId,
            byte[] userName, byte[] token, uint userUpdate);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_logout_room(ulong engine, byte[] roomId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_switch_room(ulong engine, byte[] fromRoomId,
            byte[] toRoomId, byte[] token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_renew_token(ulong engine, byte[] roomId, byte[] token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_publish_stream(ulong engine, byte[] roomId,
            byte[] streamId, byte[] extraInfo);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_unpublish_stream(ulong engine, byte[] roomId,
            byte[] streamId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_on_network_changed(ulong engine, uint available);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_room_state(ulong engine, byte[] roomId, out uint state);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr roomlink_error_name(int code);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr roomlink_error_message(int code);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_set_log_callback(IntPtr callback, IntPtr userData,
            uint maxLevel);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint roomlink_abi_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr roomlink_version();
    }
}
