// The engine: one roomlink engine handle behind IDisposable, its calls as methods (a failed call
// throws RoomlinkException with the roomlink code and changed nothing), its callbacks as C# events.
// Marshalling only: every behaviour is the Rust core's.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace Roomlink
{
    public sealed class RoomlinkEngine : IDisposable
    {
        static readonly object LiveGate = new object();
        // Engines not disposed yet (each also held by its GCHandle until released), for
        // DisposeAll when Unity leaves play mode.
        static readonly HashSet<RoomlinkEngine> Live = new HashSet<RoomlinkEngine>();
        static int abiChecked;
        static readonly object HandleGate = new object();
        static int handlesHeld;

        readonly ulong handle;
        readonly EventDelivery delivery;
        int disposed;

        /// <summary>A room's state changed (ZEGO's onRoomStateChanged).</summary>
        public event RoomStateChangedHandler OnRoomStateChanged;
        /// <summary>Other users joined or left (ZEGO's onRoomUserUpdate).</summary>
        public event RoomUserUpdateHandler OnRoomUserUpdate;
        /// <summary>The number of users in a room changed (ZEGO's onRoomOnlineUserCountUpdate).</summary>
        public event RoomOnlineUserCountUpdateHandler OnRoomOnlineUserCountUpdate;
        /// <summary>Other users' streams were added or removed (ZEGO's onRoomStreamUpdate).</summary>
        public event RoomStreamUpdateHandler OnRoomStreamUpdate;
        /// <summary>A room's token expires soon (ZEGO's onRoomTokenWillExpire).</summary>
        public event RoomTokenWillExpireHandler OnRoomTokenWillExpire;

        /// <summary>The native library's version, e.g. "0.1.0".</summary>
        public static string Version
        {
            get { return Utf8.Decode(Native.roomlink_version()); }
        }

        /// <summary>Creates an engine. Its events are raised where <paramref name="delivery"/>
        /// says (by default taken from the engine's queue by the main thread's
        /// <see cref="MainThreadDispatcher.Drain"/>).
        /// Call <see cref="Dispose"/> when done: the engine lives until then.</summary>
        /// <exception cref="RoomlinkException">A setting is out of range (1900004), the URL is
        /// null (1900101), ...</exception>
        /// <exception cref="InvalidOperationException">The native library is of another ABI.</exception>
        public RoomlinkEngine(RoomlinkEngineConfig config, EventDelivery delivery = EventDelivery.MainThread)
        {
            if (config == null)
            {
                throw new ArgumentNullException("config");
            }
            CheckAbi();
            this.delivery = delivery;
            byte[] url = Utf8.Encode(config.ServerUrl, "config.ServerUrl");
            // Every string is encoded (which may throw) before anything is pinned.
            string[] moreUrls = config.MoreServerUrls ?? new string[0];
            var more = new byte[moreUrls.Length][];
            for (int i = 0; i < more.Length; i++)
            {
                more[i] = Utf8.Encode(moreUrls[i], "config.MoreServerUrls");
            }
            // A null ProxyUrl stays NULL (no proxy); an empty or bad one is refused by the library.
            byte[] proxy = config.ProxyUrl == null ? null : Utf8.Encode(config.ProxyUrl, "config.ProxyUrl");
            var pin = url == null ? default(GCHandle) : GCHandle.Alloc(url, GCHandleType.Pinned);
            var proxyPin = proxy == null ? default(GCHandle) : GCHandle.Alloc(proxy, GCHandleType.Pinned);
            // An empty array is pinned too: the library then refuses it (no certificate), as it should.
            byte[] caPem = config.TlsCaPem;
            var caPin = caPem == null ? default(GCHandle) : GCHandle.Alloc(caPem, GCHandleType.Pinned);
            // Each further URL pinned, and the array of their addresses (a NULL entry stays NULL:
            // the library refuses it with NULL_POINTER).
            var morePins = new GCHandle[more.Length];
            var moreAddrs = new IntPtr[more.Length];
            for (int i = 0; i < more.Length; i++)
            {
                if (more[i] != null)
                {
                    morePins[i] = GCHandle.Alloc(more[i], GCHandleType.Pinned);
                    moreAddrs[i] = morePins[i].AddrOfPinnedObject();
                }
            }
            var arrayPin = GCHandle.Alloc(moreAddrs, GCHandleType.Pinned);
            try
            {
                var c = config.ToNative(pin.IsAllocated ? pin.AddrOfPinnedObject() : IntPtr.Zero,
                    more.Length > 0 ? arrayPin.AddrOfPinnedObject() : IntPtr.Zero, more.Length,
                    proxyPin.IsAllocated ? proxyPin.AddrOfPinnedObject() : IntPtr.Zero,
                    caPin.IsAllocated ? caPin.AddrOfPinnedObject() : IntPtr.Zero);
                if (delivery == EventDelivery.EngineThread)
                {
                    CreateWithCallbacks(ref c, out handle);
                }
                else
                {
                    CreatePulled(ref c, out handle);
                }
            }
            finally
            {
                if (pin.IsAllocated)
                {
                    pin.Free();
                }
                foreach (var p in morePins)
                {
                    if (p.IsAllocated)
                    {
                        p.Free();
                    }
                }
                arrayPin.Free();
                if (proxyPin.IsAllocated)
                {
                    proxyPin.Free();
                }
                if (caPin.IsAllocated)
                {
                    caPin.Free();
                }
            }
            lock (LiveGate)
            {
                Live.Add(this);
            }
        }

        // EngineThread: the handler table calls NativeCallbacks on roomlink's event thread.
        void CreateWithCallbacks(ref Native.EngineConfig c, out ulong engine)
        {
            // Strong: the engine object lives while native code may call back into it. Freed by
            // the on_released callback, or here if no engine was made.
            var self = GCHandle.Alloc(this);
            lock (HandleGate)
            {
                handlesHeld++;
            }
            bool created = false;
            try
            {
                var table = NativeCallbacks.Table(GCHandle.ToIntPtr(self));
                RoomlinkException.Check(Native.roomlink_engine_create(ref c, ref table, out engine));
                created = true;
            }
            finally
            {
                if (!created)
                {
                    FreeHandle(self); // on_released is never called for a failed create
                }
            }
        }

        // MainThread: no handler (the pull API). Events wait in the engine's own queue until
        // MainThreadDispatcher.Drain takes them one at a time; the event-ready callback only wakes
        // it. No GCHandle: the dispatcher holds the engine until its last event is taken.
        void CreatePulled(ref Native.EngineConfig c, out ulong engine)
        {
            RoomlinkException.Check(Native.roomlink_engine_create_pull(ref c, IntPtr.Zero, out engine));
            // Known to the dispatcher before the first wake-up can come: a wake-up is only sent
            // when the queue goes from empty to non-empty, so one that found no engine is lost.
            MainThreadDispatcher.Add(this);
            int code = Native.roomlink_set_event_ready_callback(engine, NativeCallbacks.EventReady,
                IntPtr.Zero);
            if (code != Native.CodeOk)
            {
                Native.roomlink_engine_destroy(engine);
                MainThreadDispatcher.Forget(this);
                throw new RoomlinkException(code);
            }
        }

        /// <summary>The native handle (for the dispatcher's polls).</summary>
        internal ulong Handle
        {
            get { return handle; }
        }

        /// <summary>Frees an engine's user_data handle (once: on_released, or a failed create).</summary>
        internal static void FreeHandle(GCHandle handle)
        {
            handle.Free();
            lock (HandleGate)
            {
                handlesHeld--;
                Monitor.PulseAll(HandleGate);
            }
        }

        /// <summary>GCHandles of engines native code may still call (tests check none leaks).</summary>
        internal static int HandlesHeld
        {
            get
            {
                lock (HandleGate)
                {
                    return handlesHeld;
                }
            }
        }

        /// <summary>Waits until <see cref="HandlesHeld"/> is <paramref name="count"/> (true) or
        /// the timeout passed (false): on_released runs on the engine's thread, unsignalled.</summary>
        internal static bool WaitHandlesHeld(int count, int timeoutMs)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            lock (HandleGate)
            {
                while (handlesHeld != count)
                {
                    int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                    if (left <= 0 || !Monitor.Wait(HandleGate, left))
                    {
                        return handlesHeld == count;
                    }
                }
                return true;
            }
        }

        static void CheckAbi()
        {
            if (Volatile.Read(ref abiChecked) != 0)
            {
                return;
            }
            uint abi = Native.roomlink_abi_version();
            if (abi != Native.AbiVersion)
            {
                throw new InvalidOperationException("the roomlink_ffi library has ABI " + abi
                    + ", this package was written for ABI " + Native.AbiVersion);
            }
            Volatile.Write(ref abiChecked, 1);
        }

        /// <summary>True once <see cref="Dispose"/> destroyed the engine.</summary>
        public bool IsDisposed
        {
            get { return Volatile.Read(ref disposed) != 0; }
        }

        /// <summary>Starts logging in: OnRoomStateChanged reports Logining, then Logined or
        /// LoginFailed.</summary>
        public void LoginRoom(string roomId, RoomlinkUser user, string token, RoomlinkRoomConfig config = null)
        {
            if (user == null)
            {
                throw new ArgumentNullException("user");
            }
            bool userUpdate = config == null || config.UserUpdate;
            RoomlinkException.Check(Native.roomlink_login_room(handle, Utf8.Encode(roomId, "roomId"),
                Utf8.Encode(user.UserId, "user.UserId"), Utf8.Encode(user.UserName, "user.UserName"),
                Utf8.Encode(token, "token"), userUpdate ? 1u : 0u));
        }

        /// <summary>Logs out: reports Logout. For a room not logged in it reports LogoutFailed and
        /// throws 1002002 (as ZEGO does).</summary>
        public void LogoutRoom(string roomId)
        {
            RoomlinkException.Check(Native.roomlink_logout_room(handle, Utf8.Encode(roomId, "roomId")));
        }

        /// <summary>Logs out of <paramref name="fromRoomId"/> and in to <paramref name="toRoomId"/>
        /// as the same user.</summary>
        public void SwitchRoom(string fromRoomId, string toRoomId, string token)
        {
            RoomlinkException.Check(Native.roomlink_switch_room(handle,
                Utf8.Encode(fromRoomId, "fromRoomId"), Utf8.Encode(toRoomId, "toRoomId"),
                Utf8.Encode(token, "token")));
        }

        /// <summary>Replaces the room's token (after OnRoomTokenWillExpire).</summary>
        public void RenewToken(string roomId, string token)
        {
            RoomlinkException.Check(Native.roomlink_renew_token(handle, Utf8.Encode(roomId, "roomId"),
                Utf8.Encode(token, "token")));
        }

        /// <summary>Announces a stream (metadata only) in a logged-in room.</summary>
        public void PublishStream(string roomId, string streamId, string extraInfo = "")
        {
            RoomlinkException.Check(Native.roomlink_publish_stream(handle, Utf8.Encode(roomId, "roomId"),
                Utf8.Encode(streamId, "streamId"), Utf8.Encode(extraInfo, "extraInfo")));
        }

        /// <summary>Withdraws a stream published with PublishStream.</summary>
        public void UnpublishStream(string roomId, string streamId)
        {
            RoomlinkException.Check(Native.roomlink_unpublish_stream(handle,
                Utf8.Encode(roomId, "roomId"), Utf8.Encode(streamId, "streamId")));
        }

        /// <summary>A hint from the platform's connectivity callback (e.g. when
        /// Application.internetReachability changes): true = retry now, false = report the outage
        /// now. Ignored once disposed.</summary>
        public void NotifyNetworkChanged(bool available)
        {
            RoomlinkException.Check(Native.roomlink_on_network_changed(handle, available ? 1u : 0u));
        }

        /// <summary>App-lifecycle hint: the app is going to the background. An open link pings at
        /// once, so the server's heartbeat timeout counts from now; the link is kept. In Unity the
        /// package calls it for every engine from OnApplicationPause(true); other hosts call it
        /// themselves. Ignored once disposed.</summary>
        public void NotifyAppBackground()
        {
            RoomlinkException.Check(Native.roomlink_on_app_background(handle));
        }

        /// <summary>App-lifecycle hint: the app is back in the foreground. Rooms whose retry window
        /// passed while suspended fail now, an open link is probed (lost if nothing answers within
        /// the heartbeat interval), a link waiting to reconnect retries at once. In Unity the
        /// package calls it for every engine from OnApplicationPause(false). Ignored once
        /// disposed.</summary>
        public void NotifyAppForeground()
        {
            RoomlinkException.Check(Native.roomlink_on_app_foreground(handle));
        }

        /// <summary>Tells every engine not disposed yet that the app was paused or resumed
        /// (Unity's OnApplicationPause).</summary>
        internal static void NotifyAllAppPaused(bool paused)
        {
            List<RoomlinkEngine> engines;
            lock (LiveGate)
            {
                engines = new List<RoomlinkEngine>(Live);
            }
            foreach (var engine in engines)
            {
                RoomlinkLog.Guard(paused ? (Action)engine.NotifyAppBackground : engine.NotifyAppForeground);
            }
        }

        /// <summary>The room's state: Disconnected for a room never logged in, and for every room
        /// once disposed.</summary>
        public ConnectionState GetRoomState(string roomId)
        {
            uint state;
            RoomlinkException.Check(Native.roomlink_room_state(handle, Utf8.Encode(roomId, "roomId"), out state));
            return (ConnectionState)state;
        }

        /// <summary>Destroys the engine: logs out of every room (their Logout events are still
        /// raised) and stops its threads. Later calls throw 1900005; a second Dispose does
        /// nothing. Allowed inside an event handler.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }
            int code = Native.roomlink_engine_destroy(handle);
            if (code != Native.CodeOk)
            {
                // Not destroyed (e.g. called from inside the log callback): it can be retried.
                Volatile.Write(ref disposed, 0);
                throw new RoomlinkException(code);
            }
            if (delivery == EventDelivery.MainThread)
            {
                // Destroy's Logouts are not announced by the event-ready callback (it ends first):
                // they wait in the engine's queue for the next Drain, which then sees the end.
                MainThreadDispatcher.Wake();
            }
            lock (LiveGate)
            {
                Live.Remove(this);
            }
        }

        /// <summary>Disposes every engine not disposed yet (Unity: leaving play mode).</summary>
        internal static void DisposeAll()
        {
            List<RoomlinkEngine> engines;
            lock (LiveGate)
            {
                engines = new List<RoomlinkEngine>(Live);
            }
            foreach (var engine in engines)
            {
                RoomlinkLog.Guard(engine.Dispose);
            }
        }

        // The C# events, raised with copied arguments where the delivery mode says: by
        // NativeCallbacks on roomlink's event thread (EngineThread), by PolledEvent on the thread
        // that drains MainThreadDispatcher (MainThread). Both catch and log a handler's exception.

        internal void RaiseRoomStateChanged(string roomId, RoomStateChangedReason reason, int errorCode,
            IReadOnlyDictionary<string, string> extendedData)
        {
            var h = OnRoomStateChanged;
            if (h != null)
            {
                h(roomId, reason, errorCode, extendedData);
            }
        }

        internal void RaiseRoomUserUpdate(string roomId, UpdateType updateType, IReadOnlyList<RoomlinkUser> users)
        {
            var h = OnRoomUserUpdate;
            if (h != null)
            {
                h(roomId, updateType, users);
            }
        }

        internal void RaiseRoomOnlineUserCountUpdate(string roomId, uint count)
        {
            var h = OnRoomOnlineUserCountUpdate;
            if (h != null)
            {
                h(roomId, count);
            }
        }

        internal void RaiseRoomStreamUpdate(string roomId, UpdateType updateType,
            IReadOnlyList<RoomlinkStream> streams, StreamDeleteReason? deleteReason)
        {
            var h = OnRoomStreamUpdate;
            if (h != null)
            {
                h(roomId, updateType, streams, deleteReason);
            }
        }

        internal void RaiseRoomTokenWillExpire(string roomId, uint remainingSeconds)
        {
            var h = OnRoomTokenWillExpire;
            if (h != null)
            {
                h(roomId, remainingSeconds);
            }
        }
    }
}
