//! The C tests, compiled with gcc against `bindings/c/roomlink.h` and this crate's cdylib, then
//! run natively and under valgrind's memcheck: `tests/c/misuse.c` (every misuse returns its code
//! and changes nothing) and `tests/c/pull.c` (the pull API's guarantees: no spin during destroy,
//! the event-ready notification, the log queue). gcc and valgrind are installed by the C drivers'
//! `setup` (scripts/setup.sh); a missing one fails the test with that instruction rather than
//! skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/deps`: this test binary's directory, where `cargo test` builds the cdylib
/// of this crate (only `cargo build` copies it up to `target/<profile>`).
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles `tests/c/<source>.c` (once per test); returns the binary.
fn c_binary(source: &str, name: &str) -> PathBuf {
    assert!(
        have("gcc"),
        "gcc is missing: run `bash conformance/drivers/c/driver.sh setup`"
    );
    let lib = deps_dir();
    assert!(
        lib.join("libroomlink_ffi.so").exists(),
        "no libroomlink_ffi.so in {}",
        lib.display()
    );
    let out = lib.join(format!("c-{source}-{name}"));
    let status = Command::new("gcc")
        .args([
            "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread",
        ])
        .arg("-I")
        .arg(repo().join("bindings/c"))
        .arg(repo().join(format!("ffi/tests/c/{source}.c")))
        .arg("-L")
        .arg(&lib)
        .arg("-lroomlink_ffi")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("running gcc");
    assert!(status.success(), "gcc failed on ffi/tests/c/{source}.c");
    out
}

/// Runs a C test binary; it must exit 0 and print `<source>: all checks passed`.
fn run(source: &str, mut command: Command) {
    // cargo puts target/<profile> on LD_LIBRARY_PATH, which outranks the binary's RUNPATH: the
    // library there is whatever `cargo build` made last, possibly older than this test's.
    command.env_remove("LD_LIBRARY_PATH");
    let output = command.output().expect("running a C test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{source}.c failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("{source}: all checks passed")),
        "{stdout}\n{stderr}"
    );
    // The figures the tests print (e.g. calls per destroy) end up in the test's output.
    print!("{stdout}");
}

fn under_valgrind(source: &str) {
    assert!(
        have("valgrind"),
        "valgrind is missing: run `bash conformance/drivers/c-valgrind/driver.sh setup`"
    );
    let binary = c_binary(source, "valgrind");
    let mut command = Command::new("valgrind");
    command
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
        ])
        .arg(format!(
            "--suppressions={}",
            repo()
                .join("conformance/drivers/c-valgrind/rust-std.supp")
                .display()
        ))
        .arg(binary);
    run(source, command);
}

#[test]
fn c_misuse_returns_the_right_codes_and_changes_nothing() {
    run("misuse", Command::new(c_binary("misuse", "native")));
}

#[test]
fn c_misuse_is_clean_under_valgrind() {
    under_valgrind("misuse");
}

#[test]
fn c_pull_mode_keeps_its_guarantees() {
    run("pull", Command::new(c_binary("pull", "native")));
}

#[test]
fn c_pull_mode_is_clean_under_valgrind() {
    under_valgrind("pull");
}

/// The README's C quick start compiles and links as written (it needs a server to run).
#[test]
fn the_readme_c_quick_start_compiles() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split_once("## Quick start: C")
        .expect("README has a `## Quick start: C` section")
        .1;
    let code = section
        .split_once("```c\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the section has a ```c block")
        .0;
    let dir = deps_dir();
    let source = dir.join("readme-quickstart.c");
    std::fs::write(&source, code).expect("writing the example");
    assert!(
        have("gcc"),
        "gcc is missing: run `bash conformance/drivers/c/driver.sh setup`"
    );
    let status = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(repo().join("bindings/c"))
        .arg(&source)
        .arg("-L")
        .arg(&dir)
        .arg("-lroomlink_ffi")
        .arg("-o")
        .arg(dir.join("readme-quickstart"))
        .status()
        .expect("running gcc");
    assert!(
        status.success(),
        "the README's C quick start does not compile"
    );
}
