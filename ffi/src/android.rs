//! Android only: hands the app's `Context` to the platform certificate verifier.
//!
//! On Android, `wss://` servers are verified by the OS's `X509TrustManager`
//! (`core/src/transport/tls.rs`), which `rustls-platform-verifier` reaches through JNI and its
//! small Kotlin component (to be bundled into the AAR, see bindings/kotlin/README.md). It needs
//! the JVM and a `Context` once per process, before the first `wss://` connection: the Kotlin
//! binding's `RoomlinkAndroid.init(context)` (bindings/kotlin/src/android) calls the native
//! method below. Without it, a `wss://` login fails with 1002030 and a log line saying what is
//! missing (core turns the verifier's panic into a handshake error); it does not crash.
//!
//! Not compiled on this project's CI machines (no Android target there). The `jni` calls were
//! compile-checked on Linux against `jni` 0.22 with a stand-in for `init_with_env`.

use jni::EnvUnowned;
use jni::errors::ThrowRuntimeExAndDefault;
use jni::objects::{JClass, JObject};

/// `org.roomlink.RoomlinkAndroid.nativeInit(context)`. `with_env` catches a panic and, like an
/// error, raises it in the JVM as a `RuntimeException`: nothing unwinds across JNI.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_roomlink_RoomlinkAndroid_nativeInit<'caller>(
    mut unowned_env: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
) {
    unowned_env
        .with_env(|env| rustls_platform_verifier::android::init_with_env(env, context))
        .resolve::<ThrowRuntimeExAndDefault>();
}
