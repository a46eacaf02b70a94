// Dart strings to the header's UTF-8, NUL-terminated, call-borrowed strings.

import 'dart:ffi';

import 'package:ffi/ffi.dart';

/// A NUL inside a Dart string would end the C string early: "a\u0000b" would reach roomlink as
/// "a", a different room. Refused instead, before anything happens.
void requireNoNul(String value, String name) {
  if (value.contains('\u0000')) {
    throw ArgumentError.value(value, name, 'contains NUL, which a C string cannot carry');
  }
}

/// [value] as a C string in [arena] (freed when the call's `using` block ends: the header
/// borrows argument strings for the call only).
Pointer<Utf8> cString(String value, String name, Arena arena) {
  requireNoNul(value, name);
  return value.toNativeUtf8(allocator: arena);
}
