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
    }
}

// The AAR is named after it: build/outputs/aar/roomlink-release.aar.
rootProject.name = "roomlink"
