// The room events, one class per `ROOMLINK_EVENT_*` kind (proto/src/event.rs one to one), and the
// copy out of an owned `roomlink_event`.

import 'dart:ffi';

import 'package:ffi/ffi.dart';

import 'bindings.dart';
import 'types.dart';

/// An event of `RoomlinkEngine.events`, delivered in the engine's order. A `switch` over it is
/// exhaustive.
sealed class RoomEvent {
  const RoomEvent(this.roomId);

  /// The room the event is about.
  final String roomId;
}

/// ZEGO's `onRoomStateChanged`.
final class RoomStateChanged extends RoomEvent {
  const RoomStateChanged(super.roomId, this.reason, this.errorCode, this.extendedData);

  final RoomStateChangedReason reason;

  /// 0 or a roomlink code (`roomlinkErrorName` names it).
  final int errorCode;

  /// `room_session_id` on Logined/Reconnected, `reconnect_kind` (resumed, resynced, rejoined) and
  /// `reconnect_attempts` on Reconnected, `custom_kickout_message` on an admin kick.
  final Map<String, String> extendedData;

  @override
  String toString() => 'RoomStateChanged($roomId, ${reason.name}, $errorCode, $extendedData)';
}

/// Other users joined or left: never the local user, sorted by user ID.
final class RoomUserUpdate extends RoomEvent {
  const RoomUserUpdate(super.roomId, this.updateType, this.users);

  final UpdateType updateType;
  final List<RoomUser> users;

  @override
  String toString() => 'RoomUserUpdate($roomId, ${updateType.name}, $users)';
}

/// The number of users in the room, the local user included.
final class RoomOnlineUserCountUpdate extends RoomEvent {
  const RoomOnlineUserCountUpdate(super.roomId, this.count);

  final int count;

  @override
  String toString() => 'RoomOnlineUserCountUpdate($roomId, $count)';
}

/// Other users' streams were added or removed.
final class RoomStreamUpdate extends RoomEvent {
  const RoomStreamUpdate(super.roomId, this.updateType, this.streams, this.reason);

  final UpdateType updateType;
  final List<RoomStream> streams;

  /// Set for [UpdateType.delete] only.
  final StreamDeleteReason? reason;

  @override
  String toString() => 'RoomStreamUpdate($roomId, ${updateType.name}, $streams, ${reason?.name})';
}

/// The room's token expires in [remainingSeconds]: call `renewToken` or be kicked (1002056).
final class RoomTokenWillExpire extends RoomEvent {
  const RoomTokenWillExpire(super.roomId, this.remainingSeconds);

  final int remainingSeconds;

  @override
  String toString() => 'RoomTokenWillExpire($roomId, $remainingSeconds)';
}

/// Copies an owned event into Dart objects; the caller frees [e] afterwards. Only fields the
/// header sets for [e]'s kind are read, and arrays only up to their counts (NULL when 0).
RoomEvent decodeEvent(RoomlinkEventC e) {
  final room = e.roomId.toDartString();
  return switch (byValue(RoomlinkEventKind.values, e.kind)) {
    RoomlinkEventKind.roomStateChanged => RoomStateChanged(
        room,
        RoomStateChangedReason.fromC(e.reason),
        e.errorCode,
        {
          for (var i = 0; i < e.extendedDataLen; i++)
            e.extendedData[i].key.toDartString(): e.extendedData[i].value.toDartString(),
        },
      ),
    RoomlinkEventKind.roomUserUpdate => RoomUserUpdate(
        room,
        UpdateType.fromC(e.updateType),
        [for (var i = 0; i < e.userCount; i++) _user(e.users[i])],
      ),
    RoomlinkEventKind.roomOnlineUserCountUpdate => RoomOnlineUserCountUpdate(room, e.count),
    RoomlinkEventKind.roomStreamUpdate => RoomStreamUpdate(
        room,
        UpdateType.fromC(e.updateType),
        [
          for (var i = 0; i < e.streamCount; i++)
            RoomStream(
              e.streams[i].streamId.toDartString(),
              _user(e.streams[i].user),
              e.streams[i].extraInfo.toDartString(),
            ),
        ],
        e.streamDeleteReason == roomlinkStreamDeleteReasonNone
            ? null
            : StreamDeleteReason.fromC(e.streamDeleteReason),
      ),
    RoomlinkEventKind.roomTokenWillExpire => RoomTokenWillExpire(room, e.remainingSeconds),
  };
}

RoomUser _user(RoomlinkUserC u) => RoomUser(u.userId.toDartString(), u.userName.toDartString());
