// The event pump: a background isolate that creates a pull-mode engine and blocks in
// `roomlink_wait_event`, copying each owned event into Dart objects before freeing it, and sends
// them to the engine's isolate. Why not callbacks: README.md, "Why the pull API".
//
// Shutdown (the header's rules for a destroyed pull-mode engine): `dispose` destroys the engine
// on another isolate. The blocked wait returns at once; the engine's last events (its Logouts)
// are taken as usual; then, while destroy is still joining the engine's threads (up to about a
// second), `roomlink_wait_event` returns NULL immediately on every call. Instead of spinning
// through that, the pump waits for `dispose`'s "destroy returned" message; the next wait then
// returns ROOMLINK_CODE_ENGINE_DESTROYED (no event is left), and the isolate exits.

import 'dart:async';
import 'dart:ffi';
import 'dart:isolate';

import 'package:ffi/ffi.dart';

import 'bindings.dart';
import 'config.dart';
import 'errors.dart';
import 'events.dart';

/// The longest wait the header allows (about 49.7 days): the pump wakes for an event or a
/// destroy, never on a timer (an idle engine costs no wake-ups).
const int _waitMs = 0xFFFFFFFF;

/// Isolate.spawn's message: what to create, where to send.
final class PumpStart {
  const PumpStart(this.config, this.out);
  final EngineConfig config;
  final SendPort out;
}

/// The engine exists: its handle, and the port taking `dispose`'s "destroy returned".
final class PumpStarted {
  const PumpStarted(this.handle, this.commands);
  final int handle;
  final SendPort commands;
}

/// `roomlink_engine_create` or `roomlink_wait_event` returned [code]; the pump has stopped.
final class PumpFailed {
  const PumpFailed(this.code);
  final int code;
}

/// An event could not be copied (e.g. a value this plugin does not know); the pump goes on.
final class PumpDecodeFailed {
  const PumpDecodeFailed(this.description);
  final String description;
}

/// The isolate's entry point.
Future<void> runPump(PumpStart start) async {
  final destroyReturned = Completer<void>();
  final commands = ReceivePort('roomlink dispose')
    ..listen((_) {
      if (!destroyReturned.isCompleted) destroyReturned.complete();
    });
  try {
    final int handle;
    try {
      handle = using((arena) {
        final out = arena<Uint64>();
        check(bindings.engineCreate(configToC(start.config, arena), nullptr, out));
        return out.value;
      });
    } on RoomlinkException catch (e) {
      start.out.send(PumpFailed(e.code));
      return;
    }
    start.out.send(PumpStarted(handle, commands.sendPort));
    await _pump(handle, start.out, destroyReturned.future);
  } finally {
    // The isolate exits once its last port is closed; the engine's isolate sees the exit.
    commands.close();
  }
}

Future<void> _pump(int handle, SendPort out, Future<void> destroyReturned) async {
  final slot = calloc<Pointer<RoomlinkEventC>>();
  var destroyed = false;
  try {
    while (true) {
      final clock = Stopwatch()..start();
      final code = bindings.waitEvent(handle, _waitMs, slot);
      if (code == roomlinkCodeEngineDestroyed) return; // destroyed and drained
      if (code != roomlinkCodeOk) {
        out.send(PumpFailed(code));
        return;
      }
      final event = slot.value;
      if (event != nullptr) {
        try {
          out.send(decodeEvent(event.ref));
        } catch (e) {
          // Still free it, and keep the stream going: the error reaches the listener.
          out.send(PumpDecodeFailed('$e'));
        } finally {
          bindings.eventFree(event);
        }
        continue;
      }
      if (clock.elapsedMilliseconds >= _waitMs) continue; // a real timeout: wait again
      // NULL early: the queue is closed and empty, destroy is joining threads (see the top).
      if (destroyed) {
        // Destroy returned yet the handle is not drained: a library bug. Stop, do not spin.
        out.send(const PumpFailed(roomlinkCodeInternalError));
        return;
      }
      await destroyReturned;
      destroyed = true;
    }
  } finally {
    calloc.free(slot);
  }
}
