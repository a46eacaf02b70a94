// One event taken from an engine's queue with roomlink_poll_event (EventDelivery.MainThread):
// raised on the calling thread, then freed. The event stays in the engine's queue until this
// takes it, so whatever its handlers call (LogoutRoom, Dispose) acts before the next one is
// taken, exactly as on the engine thread.

using System;
using System.Runtime.InteropServices;

namespace Roomlink
{
    internal static class PolledEvent
    {
        /// <summary>Raises <paramref name="ev"/> (owned, from roomlink_poll_event) on
        /// <paramref name="engine"/> and frees it, also when a handler throws (logged).</summary>
        internal static void RaiseAndFree(RoomlinkEngine engine, IntPtr ev)
        {
            try
            {
                var e = (Native.Event)Marshal.PtrToStructure(ev, typeof(Native.Event));
                string room = Utf8.Decode(e.room_id);
                switch (e.kind)
                {
                    case Native.EventRoomStateChanged:
                        engine.RaiseRoomStateChanged(room, (RoomStateChangedReason)e.reason, e.error_code,
                            NativeCopy.ExtendedData(e.extended_data, e.extended_data_len));
                        break;
                    case Native.EventRoomUserUpdate:
                        engine.RaiseRoomUserUpdate(room, (UpdateType)e.update_type,
                            NativeCopy.Users(e.users, e.user_count));
                        break;
                    case Native.EventRoomOnlineUserCountUpdate:
                        engine.RaiseRoomOnlineUserCountUpdate(room, e.count);
                        break;
                    case Native.EventRoomStreamUpdate:
                        engine.RaiseRoomStreamUpdate(room, (UpdateType)e.update_type,
                            NativeCopy.Streams(e.streams, e.stream_count),
                            NativeCopy.DeleteReason(e.stream_delete_reason));
                        break;
                    case Native.EventRoomTokenWillExpire:
                        engine.RaiseRoomTokenWillExpire(room, e.remaining_seconds);
                        break;
                    default:
                        // A newer library with a kind this package does not know: skipped, said.
                        RoomlinkLog.Exception(new InvalidOperationException(
                            "roomlink_poll_event returned an unknown event kind " + e.kind));
                        break;
                }
            }
            catch (Exception e)
            {
                RoomlinkLog.Exception(e);
            }
            finally
            {
                Native.roomlink_event_free(ev);
            }
        }
    }
}
