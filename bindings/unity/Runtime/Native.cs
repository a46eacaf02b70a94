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
        internal const uint AbiVersion = 3;

        internal const int CodeOk = 0;
        internal const int CodeInvalidArgument = 1900004;
        internal const int CodeEngineDestroyed = 1900005;

        internal const int StreamDeleteReasonNone = -1;

        // roomlink_event_kind: which fields of a polled Event are set.
        internal const uint EventRoomStateChanged = 0;
        internal const uint EventRoomUserUpdate = 1;
        internal const uint EventRoomOnlineUserCountUpdate = 2;
        internal const uint EventRoomStreamUpdate = 3;
        internal const uint EventRoomTokenWillExpire = 4;

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
            /// <summary>`const char *const *`: more server URLs (NULL when the count is 0).</summary>
            internal IntPtr more_server_urls;
            /// <summary>`size_t`.</summary>
            internal UIntPtr more_server_urls_count;
            internal IntPtr proxy_url;
            /// <summary>`const uint8_t *`: a PEM bundle of CAs to trust instead of the OS store.</summary>
            internal IntPtr tls_ca_pem;
            /// <summary>`size_t`.</summary>
            internal UIntPtr tls_ca_pem_len;
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

        /// <summary>roomlink_event (pull API): one flat struct for every kind, owned by the
        /// caller until roomlink_event_free.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Event
        {
            internal uint kind;
            internal IntPtr room_id;
            internal uint reason;
            internal int error_code;
            internal IntPtr extended_data;
            internal uint extended_data_len;
            internal uint update_type;
            internal IntPtr users;
            internal uint user_count;
            internal IntPtr streams;
            internal uint stream_count;
            internal int stream_delete_reason;
            internal uint count;
            internal uint remaining_seconds;
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
        internal delegate void EventReadyFn(IntPtr userData);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogFn(IntPtr userData, uint level, IntPtr target, IntPtr message);

        // byte[] arguments are NUL-terminated UTF-8 (Utf8.Encode); a blittable array is pinned for
        // the call and passed as a pointer to its first byte; null passes NULL.

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_engine_config_default(out EngineConfig config);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_engine_create(ref EngineConfig config,
            ref EventHandler handler, out ulong engine);

        /// <summary>roomlink_engine_create with handler NULL: a pull-mode engine, whose events
        /// wait in its queue for roomlink_poll_event.</summary>
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "roomlink_engine_create")]
        internal static extern int roomlink_engine_create_pull(ref EngineConfig config,
            IntPtr handler, out ulong engine);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_poll_event(ulong engine, out IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_event_free(IntPtr ev);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_set_event_ready_callback(ulong engine, IntPtr callback,
            IntPtr userData);

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
        internal static extern int roomlink_on_app_background(ulong engine);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int roomlink_on_app_foreground(ulong engine);

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
