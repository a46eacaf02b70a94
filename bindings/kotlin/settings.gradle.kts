// The Android library module of the Kotlin binding, a build of its own: scripts/build-aar.sh fills
// src/main/jniLibs and generated/, then runs `gradle -p bindings/kotlin assembleRelease`.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
        // rustls-platform-verifier's Kotlin half (build.gradle.kts picks its version).
        maven { url = uri("https://github.com/rustls/rustls-platform-verifier/raw/maven-archive/android-release-support/maven/") }
    }
}

// The AAR is named after it: build/outputs/aar/roomlink-release.aar.
rootProject.name = "roomlink"
