// roomlink's log records to `dart:developer`'s `log` (the DevTools logging view, `flutter logs`),
// through the C ABI's log queue: records the receiver owns, announced by a data-free callback
// that a `NativeCallable.listener` can take (the log callback's borrowed strings would be gone by
// the time a listener runs).
//
// Forwarding runs while at least one engine of this isolate lives (RoomlinkEngine.create and
// dispose call acquire and release). The library has one logger per process: engines in two
// isolates, or another binding in the same process, replace each other's forwarding.

import 'dart:developer' as developer;
import 'dart:ffi';

import 'package:ffi/ffi.dart';

import 'bindings.dart';
import 'errors.dart';

/// How many records the library keeps for this isolate between two drains; older ones are
/// dropped first, and the next record taken says how many were.
const int _capacity = 1000;

/// `package:logging`'s numbers, which `developer.log` uses: SEVERE, WARNING, INFO, FINE, FINER.
int _dartLevel(int level) => switch (level) {
      1 => 1000,
      2 => 900,
      3 => 800,
      4 => 500,
      _ => 400,
    };

/// The isolate's log forwarding.
abstract final class LogForwarding {
  /// The most verbose level forwarded, read when forwarding starts (the first engine).
  static RoomlinkLogLevel level = RoomlinkLogLevel.warn;

  static int _users = 0;
  static NativeCallable<RoomlinkReadyCallbackC>? _ready;

  /// An engine was created: start forwarding if it is the first.
  static void acquire() {
    if (_users++ > 0 || level == RoomlinkLogLevel.off) return;
    // Runs on this isolate after the library called it (on whichever thread logged): the
    // records wait, owned, in the library's queue until drained here.
    final ready = NativeCallable<RoomlinkReadyCallbackC>.listener((Pointer<Void> _) => drain());
    final code = bindings.setLogQueue(ready.nativeFunction, nullptr, level.value, _capacity);
    if (code != roomlinkCodeOk) {
      ready.close();
      developer.log('roomlink: no log forwarding (${RoomlinkException(code)})', name: 'roomlink');
      return;
    }
    _ready = ready;
  }

  /// An engine was disposed: stop forwarding after the last one.
  static void release() {
    if (_users == 0 || --_users > 0) return;
    final ready = _ready;
    if (ready == null) return;
    // Stopping returns once the library is not running `ready` and will never call it again
    // (the header's guarantee for roomlink_set_log_queue): only then may it be closed. Messages
    // it already sent to this isolate are dropped with it, which loses nothing: they carry no
    // data, and the drain below takes what they announced.
    check(bindings.setLogQueue(nullptr, nullptr, RoomlinkLogLevel.off.value, _capacity));
    ready.close();
    _ready = null;
    drain();
  }

  /// Takes every queued record (until NULL: the rule that makes the ready calls sufficient).
  static void drain() => using((arena) {
        final slot = arena<Pointer<RoomlinkLogRecordC>>();
        while (bindings.pollLogRecord(slot) == roomlinkCodeOk && slot.value != nullptr) {
          final record = slot.value;
          try {
            final r = record.ref;
            if (r.droppedBefore > 0) {
              developer.log('${r.droppedBefore} log records dropped (queue full)',
                  name: 'roomlink', level: 900);
            }
            developer.log(r.message.toDartString(),
                name: r.target.toDartString(), level: _dartLevel(r.level));
          } finally {
            bindings.logRecordFree(record);
          }
        }
      });
}
