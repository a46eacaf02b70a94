// Hand-written dart:ffi declarations for bindings/c/roomlink.h: the part of the C ABI this plugin
// calls. Mechanical on purpose: one Struct per C struct (the header's fields, order and types),
// one lookup per function (the header's parameter types), one enum or const per group of
// constants, each naming its C counterpart in its doc comment. tool/check_bindings.py compares
// all of it with the header, so a header change that this file misses fails CI instead of
// corrupting memory at run time.

import 'dart:ffi';

import 'package:ffi/ffi.dart';

import 'library.dart';

/// `ROOMLINK_ABI_VERSION`: the ABI this file describes.
const int roomlinkAbiVersion = 3;

/// `ROOMLINK_CODE_OK`.
const int roomlinkCodeOk = 0;

/// `ROOMLINK_CODE_INTERNAL_ERROR`.
const int roomlinkCodeInternalError = 1900003;

/// `ROOMLINK_CODE_ENGINE_DESTROYED`: also what the pull API returns once a destroyed engine's
/// last event was taken.
const int roomlinkCodeEngineDestroyed = 1900005;

/// `ROOMLINK_STREAM_DELETE_REASON_NONE`: `stream_delete_reason` of an Add.
const int roomlinkStreamDeleteReasonNone = -1;

/// An enum whose values are the header's numbers for a group of `#define`s.
abstract interface class CEnum {
  int get value;
}

/// The value of [values] numbered [value]; a number this plugin does not know means the loaded
/// library is newer than this file (the ABI check lets additions through).
T byValue<T extends CEnum>(List<T> values, int value) {
  for (final v in values) {
    if (v.value == value) return v;
  }
  throw StateError('roomlink: the library sent $T value $value, unknown to this plugin');
}

/// Which event a `roomlink_event` holds (`ROOMLINK_EVENT_*`).
enum RoomlinkEventKind implements CEnum {
  roomStateChanged(0),
  roomUserUpdate(1),
  roomOnlineUserCountUpdate(2),
  roomStreamUpdate(3),
  roomTokenWillExpire(4);

  const RoomlinkEventKind(this.value);
  @override
  final int value;
}

/// C: `struct roomlink_engine_config`.
final class RoomlinkEngineConfigC extends Struct {
  external Pointer<Utf8> serverUrl;
  @Uint32()
  external int roomMode;
  @Uint64()
  external int heartbeatIntervalMs;
  @Uint64()
  external int pingTimeoutMs;
  @Uint64()
  external int loginTimeoutMs;
  @Uint64()
  external int retryWindowMs;
  @Uint64()
  external int backoffBaseMs;
  @Uint64()
  external int backoffCapMs;
  @Uint64()
  external int tokenWarningMs;
  @Uint64()
  external int maxFrameBytes;
  /// `const char *const *`: more server URLs (NULL when the count is 0).
  external Pointer<Pointer<Utf8>> moreServerUrls;
  @Size()
  external int moreServerUrlsCount;
  external Pointer<Utf8> proxyUrl;
  /// `const uint8_t *`: a PEM bundle of CAs to trust instead of the OS store (NULL: the OS).
  external Pointer<Uint8> tlsCaPem;
  @Size()
  external int tlsCaPemLen;
}

/// C: `struct roomlink_event_handler`. Opaque here: the plugin always passes NULL (pull mode),
/// because its callbacks' borrowed pointers cannot be read by a `NativeCallable.listener`
/// (see README.md, "Events: the pull API and one data-free callback").
final class RoomlinkEventHandlerC extends Opaque {}

/// A record's level (`ROOMLINK_LOG_*`), and the most verbose level forwarded.
enum RoomlinkLogLevel implements CEnum {
  off(0),
  error(1),
  warn(2),
  info(3),
  debug(4),
  trace(5);

  const RoomlinkLogLevel(this.value);
  @override
  final int value;
}

/// C: `struct roomlink_log_record`. Owned by whoever took it from `roomlink_poll_log_record`
/// until `roomlink_log_record_free`; its strings die with it.
final class RoomlinkLogRecordC extends Struct {
  @Uint32()
  external int level;
  external Pointer<Utf8> target;
  external Pointer<Utf8> message;
  @Uint32()
  external int droppedBefore;
}

/// The native side of both data-free callbacks (`roomlink_event_ready_callback`,
/// `roomlink_log_ready_callback`): `void (*)(void *user_data)`.
typedef RoomlinkReadyCallbackC = Void Function(Pointer<Void>);

/// C: `struct roomlink_kv`.
final class RoomlinkKvC extends Struct {
  external Pointer<Utf8> key;
  external Pointer<Utf8> value;
}

/// C: `struct roomlink_user`.
final class RoomlinkUserC extends Struct {
  external Pointer<Utf8> userId;
  external Pointer<Utf8> userName;
}

/// C: `struct roomlink_stream`.
final class RoomlinkStreamC extends Struct {
  external Pointer<Utf8> streamId;
  external RoomlinkUserC user;
  external Pointer<Utf8> extraInfo;
}

/// C: `struct roomlink_event`. Owned by whoever took it from the pull API until
/// `roomlink_event_free`; every pointer in it dies with it.
final class RoomlinkEventC extends Struct {
  @Uint32()
  external int kind;
  external Pointer<Utf8> roomId;
  @Uint32()
  external int reason;
  @Int32()
  external int errorCode;
  external Pointer<RoomlinkKvC> extendedData;
  @Uint32()
  external int extendedDataLen;
  @Uint32()
  external int updateType;
  external Pointer<RoomlinkUserC> users;
  @Uint32()
  external int userCount;
  external Pointer<RoomlinkStreamC> streams;
  @Uint32()
  external int streamCount;
  @Int32()
  external int streamDeleteReason;
  @Uint32()
  external int count;
  @Uint32()
  external int remainingSeconds;
}

/// The library's functions. None is a leaf call (`isLeaf`): `roomlink_engine_destroy` joins
/// threads and the setters wait for a running callback, and a leaf call would hold up the VM (GC)
/// meanwhile; the others are cheap enough that it does not matter.
final class RoomlinkBindings {
  RoomlinkBindings(this._lib);

  final DynamicLibrary _lib;

  late final abiVersion = _lib.lookupFunction<
      Uint32 Function(),
      int Function()>('roomlink_abi_version');

  late final version = _lib.lookupFunction<
      Pointer<Utf8> Function(),
      Pointer<Utf8> Function()>('roomlink_version');

  late final errorName = _lib.lookupFunction<
      Pointer<Utf8> Function(Int32),
      Pointer<Utf8> Function(int)>('roomlink_error_name');

  late final errorMessage = _lib.lookupFunction<
      Pointer<Utf8> Function(Int32),
      Pointer<Utf8> Function(int)>('roomlink_error_message');

  late final engineConfigDefault = _lib.lookupFunction<
      Int32 Function(Pointer<RoomlinkEngineConfigC>),
      int Function(Pointer<RoomlinkEngineConfigC>)>('roomlink_engine_config_default');

  late final engineCreate = _lib.lookupFunction<
      Int32 Function(Pointer<RoomlinkEngineConfigC>, Pointer<RoomlinkEventHandlerC>,
          Pointer<Uint64>),
      int Function(Pointer<RoomlinkEngineConfigC>, Pointer<RoomlinkEventHandlerC>,
          Pointer<Uint64>)>('roomlink_engine_create');

  late final engineDestroy = _lib.lookupFunction<
      Int32 Function(Uint64),
      int Function(int)>('roomlink_engine_destroy');

  late final loginRoom = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>, Uint32),
      int Function(int, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>,
          int)>('roomlink_login_room');

  late final logoutRoom = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Utf8>),
      int Function(int, Pointer<Utf8>)>('roomlink_logout_room');

  late final switchRoom = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>),
      int Function(int, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>)>('roomlink_switch_room');

  late final renewToken = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Utf8>, Pointer<Utf8>),
      int Function(int, Pointer<Utf8>, Pointer<Utf8>)>('roomlink_renew_token');

  late final publishStream = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>),
      int Function(int, Pointer<Utf8>, Pointer<Utf8>, Pointer<Utf8>)>('roomlink_publish_stream');

  late final unpublishStream = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Utf8>, Pointer<Utf8>),
      int Function(int, Pointer<Utf8>, Pointer<Utf8>)>('roomlink_unpublish_stream');

  late final onNetworkChanged = _lib.lookupFunction<
      Int32 Function(Uint64, Uint32),
      int Function(int, int)>('roomlink_on_network_changed');

  late final onAppBackground = _lib.lookupFunction<
      Int32 Function(Uint64),
      int Function(int)>('roomlink_on_app_background');

  late final onAppForeground = _lib.lookupFunction<
      Int32 Function(Uint64),
      int Function(int)>('roomlink_on_app_foreground');

  late final roomState = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Utf8>, Pointer<Uint32>),
      int Function(int, Pointer<Utf8>, Pointer<Uint32>)>('roomlink_room_state');

  late final pollEvent = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<Pointer<RoomlinkEventC>>),
      int Function(int, Pointer<Pointer<RoomlinkEventC>>)>('roomlink_poll_event');

  late final setEventReadyCallback = _lib.lookupFunction<
      Int32 Function(Uint64, Pointer<NativeFunction<Void Function(Pointer<Void>)>>, Pointer<Void>),
      int Function(int, Pointer<NativeFunction<Void Function(Pointer<Void>)>>,
          Pointer<Void>)>('roomlink_set_event_ready_callback');

  late final setLogQueue = _lib.lookupFunction<
      Int32 Function(Pointer<NativeFunction<Void Function(Pointer<Void>)>>, Pointer<Void>, Uint32,
          Uint32),
      int Function(Pointer<NativeFunction<Void Function(Pointer<Void>)>>, Pointer<Void>, int,
          int)>('roomlink_set_log_queue');

  late final pollLogRecord = _lib.lookupFunction<
      Int32 Function(Pointer<Pointer<RoomlinkLogRecordC>>),
      int Function(Pointer<Pointer<RoomlinkLogRecordC>>)>('roomlink_poll_log_record');

  late final logRecordFree = _lib.lookupFunction<
      Int32 Function(Pointer<RoomlinkLogRecordC>),
      int Function(Pointer<RoomlinkLogRecordC>)>('roomlink_log_record_free');

  late final eventFree = _lib.lookupFunction<
      Int32 Function(Pointer<RoomlinkEventC>),
      int Function(Pointer<RoomlinkEventC>)>('roomlink_event_free');
}

/// This isolate's bindings (a top-level final is initialised once per isolate, on first use).
/// Loading checks the ABI, so no call reaches a library this file does not describe.
final RoomlinkBindings bindings = _load();

RoomlinkBindings _load() {
  final b = RoomlinkBindings(openRoomlinkLibrary());
  final abi = b.abiVersion();
  if (abi != roomlinkAbiVersion) {
    throw UnsupportedError('roomlink: the loaded library has ABI $abi, this plugin needs '
        '$roomlinkAbiVersion (rebuild the plugin against the library\'s roomlink.h)');
  }
  return b;
}
