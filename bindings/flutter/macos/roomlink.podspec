# roomlink's macOS glue: as on iOS, the static library is linked into the app and Dart finds its
# symbols in the process (lib/src/library.dart). Written, not built: no Xcode was available.
#
# Build the library first (on macOS, rustup targets aarch64-apple-darwin and x86_64-apple-darwin),
# from the repository root:
#   for t in aarch64-apple-darwin x86_64-apple-darwin; do
#     cargo build --release -p roomlink-ffi --target $t; done
#   lipo -create target/aarch64-apple-darwin/release/libroomlink_ffi.a \
#     target/x86_64-apple-darwin/release/libroomlink_ffi.a -output target/libroomlink_ffi-macos.a
#   xcodebuild -create-xcframework -library target/libroomlink_ffi-macos.a \
#     -output bindings/flutter/macos/Frameworks/roomlink_ffi.xcframework
Pod::Spec.new do |s|
  s.name             = 'roomlink'
  s.version          = '0.1.0'
  s.summary          = 'roomlink over its C ABI: a Flutter FFI plugin.'
  s.homepage         = 'https://roomlink.invalid'
  s.license          = { :type => 'MIT OR Apache-2.0' }
  s.author           = 'roomlink'
  s.source           = { :path => '.' }
  s.platform         = :osx, '10.14'
  s.dependency 'FlutterMacOS'

  s.vendored_frameworks = 'Frameworks/roomlink_ffi.xcframework'
  # See ios/roomlink.podspec: keep every symbol of the archive.
  s.user_target_xcconfig = {
    'OTHER_LDFLAGS' => '$(inherited) -force_load "${PODS_XCFRAMEWORKS_BUILD_DIR}/roomlink/libroomlink_ffi.a"',
  }
  s.pod_target_xcconfig = { 'DEFINES_MODULE' => 'YES' }
end
