// The engine's settings, and their copy into a `roomlink_engine_config`. A setting left null
// keeps the library's default (`roomlink_engine_config_default`), so defaults live in one place.

import 'dart:ffi';

import 'package:ffi/ffi.dart';

import 'bindings.dart';
import 'errors.dart';
import 'strings.dart';
import 'types.dart';

/// An engine's settings. Only [serverUrl] is required; the library checks the values
/// (`RoomlinkException` 1900004 when one is out of range).
final class EngineConfig {
  const EngineConfig(
    this.serverUrl, {
    this.roomMode,
    this.heartbeatInterval,
    this.pingTimeout,
    this.loginTimeout,
    this.retryWindow,
    this.backoffBase,
    this.backoffCap,
    this.tokenWarning,
    this.maxFrameBytes,
    this.proxyUrl,
    this.tlsCaPem,
  });

  /// `ws://host:port/path` or `wss://...`.
  final String serverUrl;
  final RoomMode? roomMode;

  /// How often a ping is sent while the link is idle (default 10 s).
  final Duration? heartbeatInterval;

  /// No inbound frame for this long = link lost, Reconnecting (default 25 s).
  final Duration? pingTimeout;

  /// A login not done after this long fails with 1002053 (default 30 s).
  final Duration? loginTimeout;

  /// After a link loss, retry this long before ReconnectFailed 1002053 (default 20 min).
  final Duration? retryWindow;

  /// Full-jitter exponential backoff base (default 300 ms) and cap (default 8 s).
  final Duration? backoffBase;
  final Duration? backoffCap;

  /// `RoomTokenWillExpire` comes this long before the token expires (default 30 s).
  final Duration? tokenWarning;

  /// Larger frames are a protocol error (default 65 536).
  final int? maxFrameBytes;

  /// Tunnel through this HTTP proxy, `http://[user:pass@]host:port` (null: connect directly).
  /// Credentials in it are a secret the library never logs.
  final String? proxyUrl;

  /// A PEM bundle of CA certificates to trust for `wss://` instead of the platform's trust
  /// store (pinning the app's own CA). Null, the default: the OS verifies (on Android after
  /// `RoomlinkAndroid.init(context)` in the host app), so enterprise and MDM CAs are trusted.
  final List<int>? tlsCaPem;

  /// Rejects what C would silently change: a negative number (it would wrap around to a huge
  /// unsigned one) or a NUL in the URL (it would cut the string).
  void validate() {
    requireNoNul(serverUrl, 'serverUrl');
    if (proxyUrl case final v?) requireNoNul(v, 'proxyUrl');
    final durations = {
      'heartbeatInterval': heartbeatInterval,
      'pingTimeout': pingTimeout,
      'loginTimeout': loginTimeout,
      'retryWindow': retryWindow,
      'backoffBase': backoffBase,
      'backoffCap': backoffCap,
      'tokenWarning': tokenWarning,
    };
    for (final MapEntry(:key, :value) in durations.entries) {
      if (value != null && value.isNegative) {
        throw ArgumentError.value(value, key, 'must not be negative');
      }
    }
    final bytes = maxFrameBytes;
    if (bytes != null && bytes < 0) {
      throw ArgumentError.value(bytes, 'maxFrameBytes', 'must not be negative');
    }
  }
}

/// The library's defaults with [config]'s settings on top, allocated in [arena].
Pointer<RoomlinkEngineConfigC> configToC(EngineConfig config, Arena arena) {
  final c = arena<RoomlinkEngineConfigC>();
  check(bindings.engineConfigDefault(c));
  final r = c.ref;
  r.serverUrl = config.serverUrl.toNativeUtf8(allocator: arena);
  if (config.roomMode case final v?) r.roomMode = v.value;
  if (config.heartbeatInterval case final v?) r.heartbeatIntervalMs = v.inMilliseconds;
  if (config.pingTimeout case final v?) r.pingTimeoutMs = v.inMilliseconds;
  if (config.loginTimeout case final v?) r.loginTimeoutMs = v.inMilliseconds;
  if (config.retryWindow case final v?) r.retryWindowMs = v.inMilliseconds;
  if (config.backoffBase case final v?) r.backoffBaseMs = v.inMilliseconds;
  if (config.backoffCap case final v?) r.backoffCapMs = v.inMilliseconds;
  if (config.tokenWarning case final v?) r.tokenWarningMs = v.inMilliseconds;
  if (config.maxFrameBytes case final v?) r.maxFrameBytes = v;
  if (config.proxyUrl case final v?) r.proxyUrl = v.toNativeUtf8(allocator: arena);
  if (config.tlsCaPem case final v?) {
    // At least one byte allocated, so an empty bundle is passed (and refused), not NULL.
    final pem = arena<Uint8>(v.isEmpty ? 1 : v.length);
    pem.asTypedList(v.length).setAll(0, v);
    r.tlsCaPem = pem;
    r.tlsCaPemLen = v.length;
  }
  return c;
}
