# roomlink's iOS glue: links the static library into the app; Dart finds its symbols in the
# process (DynamicLibrary.process(), lib/src/library.dart). Written, not built: no Xcode was
# available (README.md, "Platforms").
#
# Build the library first (on macOS, rustup targets aarch64-apple-ios, aarch64-apple-ios-sim and
# x86_64-apple-ios), from the repository root:
#   for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
#     cargo build --release -p roomlink-ffi --target $t; done
#   lipo -create target/aarch64-apple-ios-sim/release/libroomlink_ffi.a \
#     target/x86_64-apple-ios/release/libroomlink_ffi.a -output target/libroomlink_ffi-sim.a
#   xcodebuild -create-xcframework \
#     -library target/aarch64-apple-ios/release/libroomlink_ffi.a \
#     -library target/libroomlink_ffi-sim.a \
#     -output bindings/flutter/ios/Frameworks/roomlink_ffi.xcframework
Pod::Spec.new do |s|
  s.name             = 'roomlink'
  s.version          = '0.1.0'
  s.summary          = 'roomlink over its C ABI: a Flutter FFI plugin.'
  s.homepage         = 'https://roomlink.invalid'
  s.license          = { :type => 'MIT OR Apache-2.0' }
  s.author           = 'roomlink'
  s.source           = { :path => '.' }
  s.platform         = :ios, '12.0'
  s.dependency 'Flutter'

  s.vendored_frameworks = 'Frameworks/roomlink_ffi.xcframework'
  # Nothing in the app references roomlink's symbols at link time (Dart looks them up at run
  # time), so the linker would drop them all: load the whole archive. CocoaPods copies the
  # xcframework's matching slice to this directory.
  s.user_target_xcconfig = {
    'OTHER_LDFLAGS' => '$(inherited) -force_load "${PODS_XCFRAMEWORKS_BUILD_DIR}/roomlink/libroomlink_ffi.a"',
  }
  s.pod_target_xcconfig = { 'DEFINES_MODULE' => 'YES' }
end
