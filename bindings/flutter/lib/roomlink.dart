/// roomlink for Flutter: log in to rooms, get ZEGO-style room states and member/stream updates,
/// over roomlink's C ABI (bindings/c/roomlink.h); roomlink's log records go to
/// `dart:developer`'s `log`. Written against the header, never executed here: see README.md.
///
/// ```dart
/// final engine = await RoomlinkEngine.create(const EngineConfig('wss://rooms.example/v1/ws'));
/// engine.events.listen((event) {
///   if (event case RoomStateChanged(:final reason, :final errorCode)) print('$reason $errorCode');
/// });
/// engine.loginRoom('room-1', const RoomUser('alice', 'Alice'), token);
/// // ...
/// await engine.dispose(); // Logout events, then the stream closes
/// ```
library;

export 'src/bindings.dart' show RoomlinkLogLevel;
export 'src/config.dart' show EngineConfig;
export 'src/engine.dart' show RoomlinkEngine;
export 'src/errors.dart'
    show RoomlinkException, roomlinkErrorMessage, roomlinkErrorName, roomlinkVersion;
export 'src/events.dart'
    show
        RoomEvent,
        RoomOnlineUserCountUpdate,
        RoomStateChanged,
        RoomStreamUpdate,
        RoomTokenWillExpire,
        RoomUserUpdate;
export 'src/types.dart'
    show
        RoomConnectionState,
        RoomMode,
        RoomStateChangedReason,
        RoomStream,
        RoomUser,
        StreamDeleteReason,
        UpdateType;
