// The public enums, numbered as the C ABI (and ZEGO) number them, so a value cast from the
// library is the enum member of the same name on every platform.

namespace Roomlink
{
    /// <summary>Why a room's state changed (ZEGO's ZegoRoomStateChangedReason).</summary>
    public enum RoomStateChangedReason
    {
        /// <summary>LoginRoom or SwitchRoom was called; connecting.</summary>
        Logining = 0,
        /// <summary>Logged in; the extended data has "room_session_id".</summary>
        Logined = 1,
        /// <summary>Login failed (the error code says why).</summary>
        LoginFailed = 2,
        /// <summary>The link was lost; retrying (1002051).</summary>
        Reconnecting = 3,
        /// <summary>Back after an outage.</summary>
        Reconnected = 4,
        /// <summary>The retry window ended (1002053), or the server refused the resume.</summary>
        ReconnectFailed = 5,
        /// <summary>Removed by the server (1002050, 1002055, 1002056, 1900001).</summary>
        KickOut = 6,
        /// <summary>Logged out (LogoutRoom, the first half of SwitchRoom, or Dispose).</summary>
        Logout = 7,
        /// <summary>Logout of a room that is not logged in (1002002); the state does not change.</summary>
        LogoutFailed = 8,
    }

    /// <summary>A room's coarse connection state (numbered as NERTC/Agora number theirs).</summary>
    public enum ConnectionState
    {
        Disconnected = 1,
        Connecting = 2,
        Connected = 3,
        Reconnecting = 4,
        Failed = 5,
    }

    /// <summary>Whether a user or stream update adds or removes (ZEGO's ZegoUpdateType).</summary>
    public enum UpdateType
    {
        Add = 0,
        Delete = 1,
    }

    /// <summary>Why streams went away (a Delete stream update's reason).</summary>
    public enum StreamDeleteReason
    {
        /// <summary>The publisher stopped publishing.</summary>
        Stopped = 0,
        /// <summary>The publisher logged out of the room.</summary>
        UserLeft = 1,
        /// <summary>The publisher's session timed out on the server.</summary>
        UserTimedOut = 2,
        /// <summary>The publisher was kicked out.</summary>
        UserKicked = 3,
        /// <summary>The list was brought up to date after a reconnect; the stream ended while away.</summary>
        Resync = 4,
    }

    /// <summary>ZEGO's room modes.</summary>
    public enum RoomMode
    {
        /// <summary>One room at a time: a second login fails with 1002001.</summary>
        SingleRoom = 0,
        /// <summary>Several rooms at once over the one link.</summary>
        MultiRoom = 1,
    }

    /// <summary>Where an engine raises its C# events.</summary>
    public enum EventDelivery
    {
        /// <summary>Left in the engine's queue until <see cref="MainThreadDispatcher.Drain"/> takes
        /// them, one at a time: in Unity every frame on the main thread, so handlers may touch
        /// GameObjects. A call made in a handler acts before the next event is taken, as with
        /// EngineThread. The default.</summary>
        MainThread = 0,
        /// <summary>Raised at once on roomlink's own event thread ("roomlink-events"), one at a
        /// time and in order, like the C callbacks: for hosts with their own threading.</summary>
        EngineThread = 1,
    }

    /// <summary>A log record's level, and the most verbose level wanted.</summary>
    public enum RoomlinkLogLevel
    {
        /// <summary>No records (as the maximum only).</summary>
        Off = 0,
        Error = 1,
        Warn = 2,
        Info = 3,
        Debug = 4,
        Trace = 5,
    }
}
