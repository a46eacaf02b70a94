// The C callbacks (EventDelivery.EngineThread, and the event-ready wake-up of MainThread
// engines): static methods (IL2CPP can only call back into static methods marked
// [MonoPInvokeCallback]) that copy the borrowed arguments into managed values and hand them to the
// engine behind user_data (a GCHandle to the RoomlinkEngine). They run on roomlink's event thread;
// no exception may unwind into native code.

using System;
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
        static readonly Native.EventReadyFn Ready = OnEventsReady;

        /// <summary>The event-ready callback of every EventDelivery.MainThread engine (user_data
        /// unused: it only wakes the one dispatcher).</summary>
        internal static IntPtr EventReady
        {
            get { return Marshal.GetFunctionPointerForDelegate(Ready); }
        }

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

        [MonoPInvokeCallback(typeof(Native.RoomStateChangedFn))]
        static void OnRoomStateChanged(IntPtr userData, IntPtr roomId, uint reason, int errorCode,
            IntPtr extendedData, uint extendedDataLen)
        {
            try
            {
                Engine(userData).RaiseRoomStateChanged(Utf8.Decode(roomId),
                    (RoomStateChangedReason)reason, errorCode,
                    NativeCopy.ExtendedData(extendedData, extendedDataLen));
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
                Engine(userData).RaiseRoomUserUpdate(Utf8.Decode(roomId), (UpdateType)updateType,
                    NativeCopy.Users(users, userCount));
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
                Engine(userData).RaiseRoomStreamUpdate(Utf8.Decode(roomId), (UpdateType)updateType,
                    NativeCopy.Streams(streams, streamCount), NativeCopy.DeleteReason(streamDeleteReason));
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

        // On the engine's thread when its queue goes from empty to non-empty: only a wake-up, the
        // events stay in the engine's queue until the dispatcher polls them.
        [MonoPInvokeCallback(typeof(Native.EventReadyFn))]
        static void OnEventsReady(IntPtr userData)
        {
            try
            {
                MainThreadDispatcher.Wake();
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
