// roomlink's result codes as a Dart exception, and the library's static strings: names and
// meanings come from the library (its one table, proto/src/codes.rs), never from a copy here.

import 'package:ffi/ffi.dart';

import 'bindings.dart';

/// A call returned a roomlink code other than 0 (the same number every binding reports).
final class RoomlinkException implements Exception {
  RoomlinkException(this.code);

  /// E.g. 1002001; `roomlinkErrorName(code)` is "ALREADY_LOGGED_IN".
  final int code;

  String get name => roomlinkErrorName(code);

  String get description => roomlinkErrorMessage(code);

  @override
  String toString() => 'RoomlinkException($code $name: $description)';
}

/// The code's constant name without the prefix, e.g. "KICKED_DUPLICATE_LOGIN" for 1002050;
/// "UNKNOWN" for a code the loaded library does not know.
String roomlinkErrorName(int code) => bindings.errorName(code).toDartString();

/// The code's meaning in one English sentence.
String roomlinkErrorMessage(int code) => bindings.errorMessage(code).toDartString();

/// The loaded library's version, e.g. "0.1.0".
String roomlinkVersion() => bindings.version().toDartString();

/// Throws [RoomlinkException] unless [code] is 0.
void check(int code) {
  if (code != roomlinkCodeOk) throw RoomlinkException(code);
}
