// The event payload types and handler signatures (ZEGO's onRoom* callbacks, C# spelling).

using System;
using System.Collections.Generic;

namespace Roomlink
{
    /// <summary>A user as other members of a room see them (ZEGO's ZegoUser).</summary>
    public sealed class RoomlinkUser
    {
        public string UserId { get; private set; }
        public string UserName { get; private set; }

        public RoomlinkUser(string userId, string userName)
        {
            UserId = userId;
            UserName = userName;
        }

        public override string ToString()
        {
            return UserId + " \"" + UserName + "\"";
        }
    }

    /// <summary>A published stream's metadata (ZEGO's ZegoStream).</summary>
    public sealed class RoomlinkStream
    {
        public string StreamId { get; private set; }
        /// <summary>The publisher.</summary>
        public RoomlinkUser User { get; private set; }
        /// <summary>Free-form data set by the publisher (may be empty, never null).</summary>
        public string ExtraInfo { get; private set; }

        public RoomlinkStream(string streamId, RoomlinkUser user, string extraInfo)
        {
            StreamId = streamId;
            User = user;
            ExtraInfo = extraInfo;
        }
    }

    /// <summary>Per-login settings.</summary>
    public sealed class RoomlinkRoomConfig
    {
        /// <summary>Receive OnRoomUserUpdate for this room (default true).</summary>
        public bool UserUpdate = true;
    }

    public delegate void RoomStateChangedHandler(string roomId, RoomStateChangedReason reason,
        int errorCode, IReadOnlyDictionary<string, string> extendedData);

    /// <summary>Other users joined or left (never the local user; sorted by user ID).</summary>
    public delegate void RoomUserUpdateHandler(string roomId, UpdateType updateType,
        IReadOnlyList<RoomlinkUser> users);

    /// <summary>Users in the room, the local user included.</summary>
    public delegate void RoomOnlineUserCountUpdateHandler(string roomId, uint count);

    /// <summary>Other users' streams were added or removed; <paramref name="deleteReason"/> is
    /// null for Add.</summary>
    public delegate void RoomStreamUpdateHandler(string roomId, UpdateType updateType,
        IReadOnlyList<RoomlinkStream> streams, StreamDeleteReason? deleteReason);

    /// <summary>The room's token expires soon: call RenewToken or be kicked (1002056).</summary>
    public delegate void RoomTokenWillExpireHandler(string roomId, uint remainingSeconds);
}
