// Finds the roomlink library (`cargo build -p roomlink-ffi`) on each platform, as the platform
// folders of this plugin ship it (README.md, "Platforms").

import 'dart:ffi';
import 'dart:io';

/// Overrides the library's path, e.g. for `flutter test` on a desktop against
/// `target/debug/libroomlink_ffi.so` (or `.dylib` on macOS, where the app links it statically).
const String libraryPathVariable = 'ROOMLINK_FFI_LIBRARY';

DynamicLibrary openRoomlinkLibrary() {
  final override = Platform.environment[libraryPathVariable];
  if (override != null && override.isNotEmpty) return DynamicLibrary.open(override);
  // iOS and macOS: the podspecs link the static library into the app (an iOS app cannot ship a
  // loose dylib), so the symbols are in the process already.
  if (Platform.isIOS || Platform.isMacOS) return DynamicLibrary.process();
  if (Platform.isWindows) return DynamicLibrary.open('roomlink_ffi.dll');
  // Android (jniLibs/<abi>/) and Linux (the bundle's lib/): found by the dynamic loader by name.
  return DynamicLibrary.open('libroomlink_ffi.so');
}
