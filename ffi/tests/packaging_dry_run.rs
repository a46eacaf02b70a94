//! The packaging scripts need the Android NDK or Xcode, which CI does not have; their `--dry-run`
//! runs anywhere. These tests check the printed plan: every ABI and Apple target is built with the
//! release-ffi profile and one crate type (so its LTO applies), UniFFI generates from the
//! unstripped library before anything is stripped, and the plan agrees with the Gradle module and
//! Package.swift it feeds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TARGET_DIR: &str = "/nonexistent/roomlink-target";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(name: &str, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(root().join("scripts").join(name))
        .args(args)
        .env("CARGO_TARGET_DIR", TARGET_DIR)
        .output()
        .expect("bash runs")
}

/// The commands of a dry run, in order (lines starting with `+ `), after checking it succeeded.
fn plan(name: &str) -> Vec<String> {
    let out = script(name, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} --dry-run failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let commands: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("+ "))
        .map(str::to_owned)
        .collect();
    assert!(!commands.is_empty(), "{name} printed no plan: {stdout}");
    commands
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).expect("file exists")
}

/// Index of the only command containing every needle.
fn find(plan: &[String], needles: &[&str]) -> usize {
    let hits: Vec<usize> = (0..plan.len())
        .filter(|&i| needles.iter().all(|n| plan[i].contains(n)))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one command with {needles:?} in {plan:#?}"
    );
    hits[0]
}

#[test]
fn aar_plan_builds_every_abi_generates_unstripped_then_strips_and_assembles() {
    let plan = plan("build-aar.sh");
    let build = find(
        &plan,
        &[
            "cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 ",
            "-o bindings/kotlin/src/main/jniLibs rustc --profile release-ffi -p roomlink-ffi --lib --crate-type cdylib",
        ],
    );
    let generate = find(
        &plan,
        &[
            "scripts/uniffi-generate.sh --lang kotlin --out bindings/kotlin/generated",
            &format!("--lib {TARGET_DIR}/aarch64-linux-android/release-ffi/libroomlink_ffi.so"),
        ],
    );
    assert!(build < generate);
    for abi in ["arm64-v8a", "armeabi-v7a", "x86_64"] {
        let strip = find(
            &plan,
            &[&format!(
                "--strip-unneeded bindings/kotlin/src/main/jniLibs/{abi}/libroomlink_ffi.so"
            )],
        );
        assert!(
            generate < strip,
            "{abi} is stripped before UniFFI read the library"
        );
    }
    assert!(
        plan.last()
            .is_some_and(|c| c.ends_with("-p bindings/kotlin assembleRelease"))
    );

    // The native library is built for the module's minSdk.
    let gradle = read("bindings/kotlin/build.gradle.kts");
    let min_sdk = gradle
        .lines()
        .find_map(|l| l.trim().strip_prefix("minSdk = "))
        .and_then(|v| v.split_whitespace().next())
        .expect("build.gradle.kts sets minSdk");
    assert!(
        plan[build].contains(&format!("--platform {min_sdk} ")),
        "{}",
        plan[build]
    );
}

#[test]
fn xcframework_plan_builds_every_target_lipos_slices_and_matches_package_swift() {
    let plan = plan("build-xcframework.sh");
    let package = read("bindings/swift/Package.swift");
    assert!(package.contains(".iOS(.v13)") && package.contains(".macOS(.v11)"));
    let targets = [
        "aarch64-apple-ios",
        "aarch64-apple-ios-sim",
        "x86_64-apple-ios",
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
    ];
    let builds: Vec<usize> = (0..plan.len())
        .filter(|&i| {
            plan[i].contains("IPHONEOS_DEPLOYMENT_TARGET=13.0 MACOSX_DEPLOYMENT_TARGET=11.0")
                && plan[i]
                    .contains("cargo rustc --profile release-ffi -p roomlink-ffi --lib --crate-type staticlib")
        })
        .collect();
    let built: Vec<&str> = builds
        .iter()
        .filter_map(|&i| plan[i].rsplit_once(" --target ").map(|(_, t)| t))
        .collect();
    assert_eq!(built, targets, "{plan:#?}");
    let last_build = builds[builds.len() - 1];
    let generate = find(
        &plan,
        &[
            "scripts/uniffi-generate.sh --lang swift",
            &format!("--lib {TARGET_DIR}/aarch64-apple-ios/release-ffi/libroomlink_ffi.a"),
        ],
    );
    assert!(last_build < generate);
    let lib = |t: &str| format!("{TARGET_DIR}/{t}/release-ffi/libroomlink_ffi.a");
    let sim = format!(
        "lipo -create {} {} -output",
        lib(targets[1]),
        lib(targets[2])
    );
    let mac = format!(
        "lipo -create {} {} -output",
        lib(targets[3]),
        lib(targets[4])
    );
    find(&plan, &[&sim, "ios-simulator/libroomlink_ffi.a"]);
    find(&plan, &[&mac, "macos/libroomlink_ffi.a"]);
    for slice in ["ios", "ios-simulator", "macos"] {
        let strip = find(
            &plan,
            &[&format!("strip -S {TARGET_DIR}/xcframework/{slice}/")],
        );
        assert!(
            generate < strip,
            "{slice} is stripped before UniFFI read the library"
        );
    }

    let create = find(&plan, &["xcodebuild -create-xcframework"]);
    assert_eq!(
        plan[create].matches(" -library ").count(),
        3,
        "{}",
        plan[create]
    );
    assert_eq!(
        plan[create].matches(" -headers ").count(),
        3,
        "{}",
        plan[create]
    );
    // The module map is installed under the name clang looks for, and the output is what
    // Package.swift's binary target points at.
    find(
        &plan,
        &[
            "RoomlinkFFI.modulemap",
            "headers/RoomlinkFFI/module.modulemap",
        ],
    );
    assert!(plan[create].ends_with("-output bindings/swift/RoomlinkFFI.xcframework"));
    assert!(
        package.contains(r#".binaryTarget(name: "RoomlinkFFI", path: "RoomlinkFFI.xcframework")"#)
    );
    find(
        &plan,
        &["Roomlink.swift bindings/swift/Sources/Roomlink/Generated/Roomlink.swift"],
    );
    // Core's model types are a UniFFI component of their own (proto/uniffi.toml): their header
    // sits beside roomlink's in the C module, their Swift file beside roomlink's in the package.
    find(
        &plan,
        &[
            "RoomlinkProtoFFI.h",
            "headers/RoomlinkFFI/RoomlinkProtoFFI.h",
        ],
    );
    find(
        &plan,
        &["RoomlinkProto.swift bindings/swift/Sources/Roomlink/Generated/RoomlinkProto.swift"],
    );
}

#[test]
fn the_packaging_profile_has_fat_lto_keeps_unwinding_and_symbols() {
    let manifest = read("Cargo.toml");
    let profile: Vec<&str> = manifest
        .split("[profile.release-ffi]")
        .nth(1)
        .expect("the root Cargo.toml declares [profile.release-ffi]")
        .lines()
        .take_while(|l| !l.starts_with('['))
        .map(str::trim)
        .collect();
    assert!(profile.contains(&"lto = \"fat\""), "{profile:?}");
    assert!(profile.contains(&"codegen-units = 1"), "{profile:?}");
    // The C ABI and UniFFI catch panics at the boundary; UniFFI reads the unstripped library.
    assert!(
        !profile.iter().any(|l| l.starts_with("panic")),
        "{profile:?}"
    );
    assert!(
        !profile.iter().any(|l| l.starts_with("strip")),
        "{profile:?}"
    );
}

#[test]
fn packaging_scripts_reject_an_unknown_argument_without_doing_anything() {
    for name in ["build-aar.sh", "build-xcframework.sh"] {
        let out = script(name, &["--dryrun"]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            out.stdout.is_empty(),
            "{name} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage:"),
            "{name}"
        );
    }
}
