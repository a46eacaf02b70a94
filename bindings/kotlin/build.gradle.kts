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

dependencies {
    // UniFFI's Kotlin calls the library through JNA; the @aar artifact carries JNA's own native
    // part (libjnidispatch.so) for every Android ABI. An app that uses the AAR file directly (not
    // through a Maven repository) must declare this dependency itself.
    implementation("net.java.dev.jna:jna:5.17.0@aar")
}
