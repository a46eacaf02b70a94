// RoomlinkEngine: one roomlink engine, its calls (one per C function, same codes) and its events
// as a Stream, taken on this isolate with roomlink_poll_event, one at a time, whenever the
// engine's event-ready callback (a NativeCallable.listener) says events wait. The stream is
// synchronous and fed only while listened to: each event's listener returns before the next is
// taken from the engine's queue, so there is no second queue here. README.md, "Events: the pull
// API and one data-free callback", explains the flow and its guarantees.

import 'dart:async';
import 'dart:ffi';
import 'dart:isolate';

import 'package:ffi/ffi.dart';

import 'bindings.dart';
import 'config.dart';
import 'errors.dart';
import 'events.dart';
import 'logs.dart';
import 'strings.dart';
import 'types.dart';

/// A roomlink engine. Create it with [create], listen to [events], log in with [loginRoom];
/// [dispose] logs out of every room and ends [events] after the last `Logout`.
///
/// Calls are synchronous and return once the library has taken them; they work from a listener
/// of [events] too. A failing call throws [RoomlinkException] (the code every binding reports)
/// and changed nothing, or [ArgumentError] for a string with a NUL in it.
///
/// roomlink's log records go to `dart:developer`'s `log` while an engine lives, at
/// [logLevel] and above.
final class RoomlinkEngine {
  RoomlinkEngine._(this._handle, this._events);

  final int _handle;
  final StreamController<RoomEvent> _events;

  /// The engine's event-ready callback: called by the library (on its own thread) when events
  /// wait; runs [_drain] on this isolate afterwards. Closed by [dispose], once destroy returned.
  late final NativeCallable<RoomlinkReadyCallbackC> _ready;

  /// The library said the engine's last event was taken (`ROOMLINK_CODE_ENGINE_DESTROYED`).
  bool _finished = false;
  Future<void>? _disposed;

  /// [_drain] is running (a listener resumed the stream from inside its callback): it goes on.
  bool _draining = false;

  /// The subscription was cancelled: nobody will take events again, so [_drain] frees them
  /// without delivering (the stream is single-subscription), up to the end after [dispose].
  bool _cancelled = false;

  /// The most verbose roomlink log level forwarded to `dart:developer`'s `log`; read when the
  /// first engine of this isolate is created (default warnings and errors).
  static RoomlinkLogLevel get logLevel => LogForwarding.level;
  static set logLevel(RoomlinkLogLevel level) => LogForwarding.level = level;

  /// Creates an engine. Throws [RoomlinkException] (e.g. 1900004 for a setting out of range,
  /// 1900101 without a server URL) or [ArgumentError]. Returns a future for compatibility with
  /// earlier versions of this plugin; the work is done synchronously.
  static Future<RoomlinkEngine> create(EngineConfig config) async {
    config.validate();
    final handle = using((arena) {
      final out = arena<Uint64>();
      check(bindings.engineCreate(configToC(config, arena), nullptr, out)); // NULL: pull mode
      return out.value;
    });
    // Synchronous: `add` runs the listener before it returns, so [_drain] polls the next event
    // only after the listener of this one returned. Fed only while listened to and not paused:
    // events that come before `listen` (a login's Logining is reported before most apps have
    // subscribed) wait in the engine's queue, not here, and are taken once listened to.
    // `onListen`/`onResume` drain in a microtask, not inside `listen`/`resume`: a listener may
    // use the subscription `listen` returns.
    late final RoomlinkEngine engine;
    final controller = StreamController<RoomEvent>(
        sync: true,
        onListen: () => scheduleMicrotask(engine._drain),
        onResume: () => scheduleMicrotask(engine._drain),
        onCancel: () {
          engine._cancelled = true;
          scheduleMicrotask(engine._drain);
        });
    engine = RoomlinkEngine._(handle, controller);
    engine._ready = NativeCallable<RoomlinkReadyCallbackC>.listener(
        (Pointer<Void> _) => engine._drain());
    final code = bindings.setEventReadyCallback(handle, engine._ready.nativeFunction, nullptr);
    if (code != roomlinkCodeOk) {
      // Nothing was set (the header's promise), so nothing can call it: close at once. A fresh
      // engine with no room logs out of nothing: destroying it here is quick.
      engine._ready.close();
      bindings.engineDestroy(handle);
      throw RoomlinkException(code);
    }
    LogForwarding.acquire();
    return engine;
  }

  /// Takes the waiting events one at a time, each handed to the listener (synchronously) before
  /// the next is polled, until the library says none is left (NULL) or the engine's last event
  /// was taken (`ROOMLINK_CODE_ENGINE_DESTROYED`: then the stream closes). Draining until NULL
  /// after each ready call is the header's rule that makes the calls sufficient: no event is
  /// missed, also when some arrive while this runs. Stops while nobody listens or the
  /// subscription is paused: the rest stays in the engine's queue, and `onListen`/`onResume`
  /// drain again (the ready callback does not announce events left in the queue). Never blocks.
  void _drain() {
    // Re-entered from a listener (it resumed the stream): the running loop goes on.
    if (_draining || _finished || _events.isClosed) return;
    _draining = true;
    try {
      using((arena) {
        final slot = arena<Pointer<RoomlinkEventC>>();
        while (_cancelled || (_events.hasListener && !_events.isPaused)) {
          final code = bindings.pollEvent(_handle, slot);
          if (code == roomlinkCodeEngineDestroyed) {
            _finish();
            return;
          }
          if (code != roomlinkCodeOk) {
            if (!_cancelled) _events.addError(RoomlinkException(code));
            return;
          }
          final event = slot.value;
          if (event == nullptr) return;
          final decoded = _copyAndFree(event);
          // The listener runs here, before the next poll: what it calls (logoutRoom, dispose)
          // acts on the engine's queue first, as a callback on the engine's thread would.
          if (decoded != null && !_cancelled) _events.add(decoded);
        }
      });
    } finally {
      _draining = false;
    }
  }

  /// The event as Dart objects, or null when it cannot be decoded (a kind or reason of a newer
  /// library: reported to the listener as a [StateError], and the stream goes on); freed either
  /// way.
  RoomEvent? _copyAndFree(Pointer<RoomlinkEventC> event) {
    try {
      return decodeEvent(event.ref);
    } catch (e, stack) {
      if (!_cancelled) _events.addError(StateError('$e'), stack);
      return null;
    } finally {
      bindings.eventFree(event);
    }
  }

  /// The engine's last event was taken: the stream ends.
  void _finish() {
    _finished = true;
    // Not awaited: the future of `close` completes only once a listener saw the end.
    unawaited(_events.close());
  }

  /// The engine's events, in order, one at a time: a listener's calls act before the next event
  /// is taken. Single-subscription (use `asBroadcastStream` to share it, which buffers: its
  /// listeners lose that property). Until it is listened to, and while paused, events wait in
  /// the engine's queue. Done after [dispose], once the last event was delivered.
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

  /// App-lifecycle hint: the app is going to the background (`AppLifecycleState.paused`). An
  /// open link pings at once, so the server's heartbeat timeout counts from now; the link is
  /// kept. Ignored after [dispose].
  void onAppBackground() => check(bindings.onAppBackground(_handle));

  /// App-lifecycle hint: the app is back in the foreground (`AppLifecycleState.resumed`). Rooms
  /// whose retry window passed while suspended fail now, an open link is probed (lost if nothing
  /// answers within the heartbeat interval), a link waiting to reconnect retries at once.
  /// Ignored after [dispose].
  void onAppForeground() => check(bindings.onAppForeground(_handle));

  /// The room's state; `disconnected` for a room never logged in and after [dispose].
  RoomConnectionState roomState(String roomId) => using((a) {
        final out = a<Uint32>();
        check(bindings.roomState(_handle, cString(roomId, 'roomId', a), out));
        return RoomConnectionState.fromC(out.value);
      });

  /// Logs out of every room (`Logout` events on [events]), stops the engine and closes [events]
  /// after its last event. Idempotent: later calls return the same future; the other calls then
  /// throw 1900005 (`roomState`: disconnected).
  Future<void> dispose() => _disposed ??= _dispose();

  Future<void> _dispose() async {
    // Meanwhile ready calls may still come and be drained here as usual.
    final code = await _destroyOnAnotherIsolate(_handle);
    // Destroy has returned: the library is not running the ready callback and will never call
    // it again (roomlink_set_event_ready_callback's guarantee), so it may be closed now, and
    // must be before the isolate could exit. Messages it already sent are dropped with it: they
    // carry no data, and the drain below takes everything.
    _ready.close();
    // Destroy does not announce its own Logouts: take them, up to the end (which closes the
    // stream). Without a listener, or paused, they wait for `onListen`/`onResume`.
    _drain();
    if (code != roomlinkCodeOk && !_events.isClosed) {
      unawaited(_events.close()); // not destroyed (e.g. an unknown handle): no end will come
    }
    LogForwarding.release();
    check(code);
  }
}

/// Destroy joins the engine's threads (up to about a second while connections close): it runs on
/// a short-lived isolate, not on the caller's (the UI's). A top-level function, so the closure
/// sent to that isolate captures the handle and nothing else.
Future<int> _destroyOnAnotherIsolate(int handle) =>
    Isolate.run(() => bindings.engineDestroy(handle), debugName: 'roomlink-destroy');
