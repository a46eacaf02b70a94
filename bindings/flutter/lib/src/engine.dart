// RoomlinkEngine: one roomlink engine, its calls (one per C function, same codes) and its events
// as a Stream fed by the event pump isolate (event_pump.dart).

import 'dart:async';
import 'dart:ffi';
import 'dart:isolate';

import 'package:ffi/ffi.dart';

import 'bindings.dart';
import 'config.dart';
import 'errors.dart';
import 'event_pump.dart';
import 'events.dart';
import 'strings.dart';
import 'types.dart';

/// A roomlink engine. Create it with [create], listen to [events], log in with [loginRoom];
/// [dispose] logs out of every room and ends [events] after the last `Logout`.
///
/// Calls are synchronous and return once the library has taken them; they work from a listener
/// of [events] too. A failing call throws [RoomlinkException] (the code every binding reports)
/// and changed nothing, or [ArgumentError] for a string with a NUL in it.
final class RoomlinkEngine {
  RoomlinkEngine._(this._handle, this._pump, this._events, this._pumpExited);

  final int _handle;
  final SendPort _pump;
  final StreamController<RoomEvent> _events;
  final Future<void> _pumpExited;
  Future<void>? _disposed;

  /// Creates an engine (its event pump isolate included). Throws [RoomlinkException] (e.g.
  /// 1900004 for a setting out of range, 1900101 without a server URL) or [ArgumentError].
  static Future<RoomlinkEngine> create(EngineConfig config) async {
    config.validate();
    final port = ReceivePort('roomlink events');
    // Single-subscription: events that come before `listen` are buffered, not lost (a login's
    // Logining is reported before most apps have subscribed).
    final events = StreamController<RoomEvent>();
    final started = Completer<PumpStarted>();
    final exited = Completer<void>();
    void fail(Object error) {
      if (started.isCompleted) {
        events.addError(error);
      } else {
        started.completeError(error);
      }
    }

    port.listen((Object? message) {
      switch (message) {
        case RoomEvent event:
          events.add(event);
        case PumpStarted s when !started.isCompleted:
          started.complete(s);
        case PumpFailed(:final code):
          fail(RoomlinkException(code));
        case PumpDecodeFailed(:final description):
          events.addError(StateError(description));
        case [final String error, final String? stack]: // Isolate.spawn's onError
          fail(RemoteError(error, stack ?? ''));
        case null: // Isolate.spawn's onExit: nothing follows
          if (!started.isCompleted) {
            started.completeError(StateError('roomlink: the event pump isolate exited'));
          }
          port.close();
          events.close();
          exited.complete();
      }
    });
    // Not awaited: the pump's messages may overtake the spawn's own future, so `started` is what
    // is awaited (at once, so none of its errors goes unhandled); a failed spawn completes it too.
    unawaited(Isolate.spawn(runPump, PumpStart(config, port.sendPort),
            onExit: port.sendPort, onError: port.sendPort, debugName: 'roomlink-events')
        .then<void>((_) {}, onError: (Object error, StackTrace stack) {
      port.close();
      if (!started.isCompleted) started.completeError(error, stack);
    }));
    final s = await started.future;
    return RoomlinkEngine._(s.handle, s.commands, events, exited.future);
  }

  /// The engine's events, in order. Single-subscription (use `asBroadcastStream` to share it):
  /// events are buffered until it is listened to, so listen once, early. Done after [dispose],
  /// once the last event was delivered.
  Stream<RoomEvent> get events => _events.stream;

  /// Starts logging in: `Logining`, then `Logined` or `LoginFailed`. [userUpdate]: receive
  /// `RoomUserUpdate`s (the default).
  void loginRoom(String roomId, RoomUser user, String token, {bool userUpdate = true}) =>
      using((a) => check(bindings.loginRoom(
          _handle,
          cString(roomId, 'roomId', a),
          cString(user.userId, 'user.userId', a),
          cString(user.userName, 'user.userName', a),
          cString(token, 'token', a),
          userUpdate ? 1 : 0)));

  /// Logs out: `Logout`. For a room not logged in, reports `LogoutFailed` and throws 1002002.
  void logoutRoom(String roomId) =>
      using((a) => check(bindings.logoutRoom(_handle, cString(roomId, 'roomId', a))));

  /// Logs out of [fromRoomId] and in to [toRoomId] as the same user.
  void switchRoom(String fromRoomId, String toRoomId, String token) => using((a) => check(
      bindings.switchRoom(_handle, cString(fromRoomId, 'fromRoomId', a),
          cString(toRoomId, 'toRoomId', a), cString(token, 'token', a))));

  /// Replaces the room's token (after `RoomTokenWillExpire`).
  void renewToken(String roomId, String token) => using((a) => check(bindings.renewToken(
      _handle, cString(roomId, 'roomId', a), cString(token, 'token', a))));

  /// Announces a stream (metadata only) in a logged-in room.
  void publishStream(String roomId, String streamId, {String extraInfo = ''}) =>
      using((a) => check(bindings.publishStream(_handle, cString(roomId, 'roomId', a),
          cString(streamId, 'streamId', a), cString(extraInfo, 'extraInfo', a))));

  /// Withdraws a stream published with [publishStream].
  void unpublishStream(String roomId, String streamId) => using((a) => check(bindings
      .unpublishStream(_handle, cString(roomId, 'roomId', a), cString(streamId, 'streamId', a))));

  /// From the host's connectivity callback: true = retry now, false = report the outage now.
  void onNetworkChanged(bool available) =>
      check(bindings.onNetworkChanged(_handle, available ? 1 : 0));

  /// The room's state; `disconnected` for a room never logged in and after [dispose].
  RoomConnectionState roomState(String roomId) => using((a) {
        final out = a<Uint32>();
        check(bindings.roomState(_handle, cString(roomId, 'roomId', a), out));
        return RoomConnectionState.fromC(out.value);
      });

  /// Logs out of every room (`Logout` events on [events]), stops the engine and closes [events]
  /// after its last event. Completes once the pump isolate has exited. Idempotent: later calls
  /// return the same future; the other calls then throw 1900005 (`roomState`: disconnected).
  Future<void> dispose() => _disposed ??= _dispose();

  Future<void> _dispose() async {
    final code = await _destroyOnAnotherIsolate(_handle);
    // Sent whatever the code: the pump only acts on it once the engine's queue is closed.
    _pump.send(null);
    check(code);
    await _pumpExited;
  }
}

/// Destroy joins the engine's threads (up to about a second while connections close): it runs on
/// a short-lived isolate, not on the caller's (the UI's). A top-level function, so the closure
/// sent to that isolate captures the handle and nothing else.
Future<int> _destroyOnAnotherIsolate(int handle) =>
    Isolate.run(() => bindings.engineDestroy(handle), debugName: 'roomlink-destroy');
