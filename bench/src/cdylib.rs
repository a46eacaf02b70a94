//! Figure 7, size: the stripped `libroomlink_ffi.so` as an app ships it, and where its bytes go
//! (sections from `size -A`, symbol bytes by crate from `nm`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// How the copy is stripped: as scripts/build-aar.sh strips the Android libraries (the dynamic
/// symbol table stays, as it must; the full symbol table and debug sections go).
pub const STRIP_ARGS: &[&str] = &["--strip-unneeded"];

#[derive(Debug, Serialize)]
pub struct CdylibSize {
    pub library: String,
    pub unstripped_bytes: u64,
    pub stripped_bytes: u64,
    pub strip: String,
    /// Allocated sections of the stripped copy, largest first.
    pub sections: Vec<(String, u64)>,
    /// Sized symbols of the unstripped library by crate, largest first.
    pub by_crate: Vec<(String, u64)>,
    /// What the symbols add up to (the rest: unwind tables, relocations, unnamed constants).
    pub symbol_bytes: u64,
}

fn output(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{what}: {e}"))
}

/// Strips a copy of `lib` into `scratch` and profiles both. `lockfile` (Cargo.lock) names the
/// crates symbols are attributed to.
pub fn measure(lib: &Path, lockfile: &Path, scratch: &Path) -> Result<CdylibSize, String> {
    let stripped = scratch.join("libroomlink_ffi.stripped.so");
    output(
        Command::new("strip")
            .args(STRIP_ARGS)
            .arg("-o")
            .arg(&stripped)
            .arg(lib),
        "strip",
    )?;
    let len = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let sections = parse_size_a(&output(
        Command::new("size").arg("-A").arg(&stripped),
        "size -A",
    )?);
    let lock =
        std::fs::read_to_string(lockfile).map_err(|e| format!("{}: {e}", lockfile.display()))?;
    let nm = output(
        Command::new("nm")
            .args(["--size-sort", "-S", "-C"])
            .arg(lib),
        "nm",
    )?;
    let by_crate = by_crate(&nm, &lock_crates(&lock));
    Ok(CdylibSize {
        library: lib.display().to_string(),
        unstripped_bytes: len(lib)?,
        stripped_bytes: len(&stripped)?,
        strip: format!("strip {}", STRIP_ARGS.join(" ")),
        symbol_bytes: by_crate.iter().map(|(_, b)| b).sum(),
        sections,
        by_crate,
    })
}

/// `size -A` output → (section, bytes) for sections with an address (loaded), largest first.
pub fn parse_size_a(text: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let (name, size, addr) = (cols.next()?, cols.next()?, cols.next()?);
            let size: u64 = size.parse().ok()?;
            let addr: u64 = addr.parse().ok()?;
            (name.starts_with('.') && addr != 0).then(|| (name.to_string(), size))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The crate names of a Cargo.lock, as they appear in symbol paths (`-` → `_`).
pub fn lock_crates(lock: &str) -> BTreeSet<String> {
    lock.lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(|n| n.replace('-', "_"))
        .collect()
}

/// The crate a demangled symbol belongs to: the first known crate in its path, so that
/// `core::ptr::drop_in_place<rustls::conn::Connection>` counts for rustls. Generic std code with
/// no crate of ours in it is "std"; symbols without a path are C/assembly (ring's, by prefix) or
/// the library's own exports.
fn crate_of(symbol: &str, crates: &BTreeSet<String>) -> String {
    const STD_INTERNALS: &[&str] = &[
        "backtrace_rs",
        "gimli",
        "addr2line",
        "miniz_oxide",
        "rustc_demangle",
        "object",
    ];
    let mut paths = symbol
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|p| p.contains("::"))
        .peekable();
    if paths.peek().is_none() {
        return if symbol.starts_with("roomlink_")
            || symbol.starts_with("uniffi_")
            || symbol.starts_with("ffi_roomlink")
            || symbol.starts_with("UNIFFI_")
        {
            "roomlink_ffi (exports)".into()
        } else {
            "C/assembly (ring) and other".into()
        };
    }
    let mut internal = false;
    for path in paths {
        let head = path.split("::").next().unwrap_or_default();
        if crates.contains(head) && !STD_INTERNALS.contains(&head) {
            return head.to_string();
        }
        internal |= path.split("::").any(|seg| STD_INTERNALS.contains(&seg));
    }
    if internal {
        "std (backtrace symbolizer)".into()
    } else {
        "std/core/alloc".into()
    }
}

/// `nm --size-sort -S -C` output → bytes per crate, largest first.
pub fn by_crate(nm: &str, crates: &BTreeSet<String>) -> Vec<(String, u64)> {
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    for line in nm.lines() {
        let mut cols = line.splitn(4, ' ');
        let (Some(addr), Some(size), Some(kind), Some(name)) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        let hex = |t: &str| u64::from_str_radix(t, 16).ok();
        let (Some(_), Some(size), 1) = (hex(addr), hex(size), kind.len()) else {
            continue;
        };
        *sums.entry(crate_of(name, crates)).or_default() += size;
    }
    let mut out: Vec<(String, u64)> = sums.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_a_keeps_loaded_sections_largest_first() {
        let text = "lib.so  :\nsection      size    addr\n.dynsym      6072     720\n\
                    .text     2093342  900928\n.rodata    419856  135168\n.comment      178       0\n\
                    Total     3077296\n\n";
        assert_eq!(
            parse_size_a(text),
            vec![
                (".text".to_string(), 2_093_342),
                (".rodata".to_string(), 419_856),
                (".dynsym".to_string(), 6072),
            ]
        );
    }

    #[test]
    fn symbols_count_for_the_crate_in_their_path() {
        let lock = "[[package]]\nname = \"rustls\"\nversion = \"0.23\"\n\n[[package]]\n\
                    name = \"roomlink-ffi\"\n\n[[package]]\nname = \"tokio\"\n";
        let crates = lock_crates(lock);
        assert!(crates.contains("roomlink_ffi") && crates.contains("rustls"));
        let nm = "\
0000000000001000 0000000000000100 T rustls::conn::ConnectionCommon<T>::read_tls
0000000000002000 0000000000000010 t core::ptr::drop_in_place<rustls::client::ClientConnection>
0000000000003000 0000000000000020 t core::ptr::drop_in_place<alloc::vec::Vec<u8>>
0000000000004000 0000000000000008 T roomlink_engine_create
0000000000005000 0000000000000004 r ecp_nistz256_precomputed
0000000000006000 0000000000000002 t <tokio::runtime::task::Task<S> as core::ops::Drop>::drop
0000000000007000 0000000000000001 t gimli::read::unit::parse_attribute
0000000000007100 0000000000000040 t <std::backtrace_rs::symbolize::gimli::Context>::new
not a symbol line
0000000000008000 zz t bad::size";
        assert_eq!(
            by_crate(nm, &crates),
            vec![
                ("rustls".to_string(), 0x110),
                ("std (backtrace symbolizer)".to_string(), 0x41),
                ("std/core/alloc".to_string(), 0x20),
                ("roomlink_ffi (exports)".to_string(), 8),
                ("C/assembly (ring) and other".to_string(), 4),
                ("tokio".to_string(), 2),
            ]
        );
    }
}
