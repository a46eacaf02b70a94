import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.0.21"
}

android {
    namespace = "org.roomlink"
    compileSdk = 35

    defaultConfig {
        minSdk = 24 // scripts/build-aar.sh builds the native library for the same API level
        // Shipped inside the AAR and applied to every app that uses it (R8 must keep what JNA
        // reaches by reflection).
        consumerProguardFiles("consumer-rules.pro")
    }

    // Kotlin: src/main/kotlin (org/roomlink/RoomlinkLogging.kt, checked in) and generated/
    // (UniFFI's output, git-ignored). Native libraries: src/main/jniLibs/<abi>/libroomlink_ffi.so
    // (git-ignored, Gradle's default folder).
    sourceSets["main"].java.srcDir("generated") // the Kotlin plugin compiles .kt files found there
    // Android-only sources (RoomlinkAndroid.kt needs android.content.Context), kept out of
    // src/main/kotlin, which the desktop-JVM conformance driver compiles.
    sourceSets["main"].java.srcDir("src/android/kotlin")

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

// rustls-platform-verifier's Kotlin half (Android's X509TrustManager, called from Rust through
// JNI: ffi/src/android.rs), from the upstream project's Maven archive (settings.gradle.kts). Its version must be the one
// of the `rustls-platform-verifier-android` crate that Cargo.lock builds (the crate exists to
// carry that version), so it is read from there rather than written here a second time.
val verifierVersion: String = rootDir.resolve("../../Cargo.lock").readLines().let { lines ->
    val at = lines.indexOfFirst { it.trim() == "name = \"rustls-platform-verifier-android\"" }
    check(at >= 0) { "rustls-platform-verifier-android is not in Cargo.lock" }
    lines[at + 1].substringAfter('"').substringBefore('"')
}

dependencies {
    implementation("rustls:rustls-platform-verifier:$verifierVersion")
    // UniFFI's Kotlin calls the library through JNA; the @aar artifact carries JNA's own native
    // part (libjnidispatch.so) for every Android ABI. An app that uses the AAR file directly (not
    // through a Maven repository) must declare this dependency itself.
    implementation("net.java.dev.jna:jna:5.17.0@aar")
}
