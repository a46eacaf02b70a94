// The values events and calls carry: enums numbered as the header numbers them (checked by
// tool/check_bindings.py), and the plain data classes.

import 'bindings.dart';

/// ZEGO's `ZegoRoomStateChangedReason` (`ROOMLINK_REASON_*`).
enum RoomStateChangedReason implements CEnum {
  /// `loginRoom` or `switchRoom` was called; connecting.
  logining(0),

  /// Logged in; `extendedData` has `room_session_id`.
  logined(1),

  /// Login failed (`errorCode` says why).
  loginFailed(2),

  /// The link was lost; retrying (1002051).
  reconnecting(3),

  /// Back after an outage.
  reconnected(4),

  /// The retry window ended (1002053), or the server refused the resume.
  reconnectFailed(5),

  /// Removed by the server (1002050, 1002055 with `custom_kickout_message`, 1002056, 1900001).
  kickOut(6),

  /// Logged out (logout, the first half of a switch, or dispose).
  logout(7),

  /// Logout of a room that is not logged in (1002002); the state does not change.
  logoutFailed(8);

  const RoomStateChangedReason(this.value);
  @override
  final int value;
  static RoomStateChangedReason fromC(int value) => byValue(values, value);
}

/// A room's coarse connection state (`ROOMLINK_STATE_*`). Not `ConnectionState`, which Flutter's
/// widgets library already exports.
enum RoomConnectionState implements CEnum {
  disconnected(1),
  connecting(2),
  connected(3),
  reconnecting(4),
  failed(5);

  const RoomConnectionState(this.value);
  @override
  final int value;
  static RoomConnectionState fromC(int value) => byValue(values, value);
}

/// ZEGO's `ZegoUpdateType` (`ROOMLINK_UPDATE_*`).
enum UpdateType implements CEnum {
  add(0),
  delete(1);

  const UpdateType(this.value);
  @override
  final int value;
  static UpdateType fromC(int value) => byValue(values, value);
}

/// Why streams went away (`ROOMLINK_STREAM_DELETE_REASON_*`; `ROOMLINK_STREAM_DELETE_REASON_NONE`,
/// an Add, is `null` in [RoomStreamUpdate.reason]).
enum StreamDeleteReason implements CEnum {
  /// The publisher stopped publishing.
  stopped(0),

  /// The publisher logged out of the room.
  userLeft(1),

  /// The publisher's session timed out on the server.
  userTimedOut(2),

  /// The publisher was kicked out.
  userKicked(3),

  /// The list was brought up to date after a reconnect; the stream ended while away.
  resync(4);

  const StreamDeleteReason(this.value);
  @override
  final int value;
  static StreamDeleteReason fromC(int value) => byValue(values, value);
}

/// ZEGO's room modes (`ROOMLINK_ROOM_MODE_*`).
enum RoomMode implements CEnum {
  /// One room at a time: logging in to a second room fails with 1002001.
  singleRoom(0),

  /// Several rooms at once over the one link.
  multiRoom(1);

  const RoomMode(this.value);
  @override
  final int value;
}

/// A user as other members see them.
final class RoomUser {
  const RoomUser(this.userId, this.userName);

  final String userId;
  final String userName;

  @override
  bool operator ==(Object other) =>
      other is RoomUser && other.userId == userId && other.userName == userName;

  @override
  int get hashCode => Object.hash(userId, userName);

  @override
  String toString() => 'RoomUser($userId, $userName)';
}

/// A published stream's metadata.
final class RoomStream {
  const RoomStream(this.streamId, this.user, this.extraInfo);

  final String streamId;

  /// The publisher.
  final RoomUser user;

  /// Free-form data set by the publisher (may be empty).
  final String extraInfo;

  @override
  bool operator ==(Object other) =>
      other is RoomStream &&
      other.streamId == streamId &&
      other.user == user &&
      other.extraInfo == extraInfo;

  @override
  int get hashCode => Object.hash(streamId, user, extraInfo);

  @override
  String toString() => 'RoomStream($streamId, $user, "$extraInfo")';
}
