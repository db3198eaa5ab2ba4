//! Build-time facts for the bench report: the compiler version (`CRPBOT_BENCH_RUSTC`) and the
//! git revision the crate was built from (`CRPBOT_BENCH_GIT_REV`, a fallback for when `git` is
//! not usable at run time). Either is simply left unset when it cannot be found.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    if let Some(v) = output(&rustc, &["--version"]) {
        println!("cargo:rustc-env=CRPBOT_BENCH_RUSTC={v}");
    }
    if let Some(rev) = output("git", &["rev-parse", "--short", "HEAD"]) {
        println!("cargo:rustc-env=CRPBOT_BENCH_GIT_REV={rev}");
        // Re-run when HEAD moves (a worktree's HEAD and refs live in the common git dir).
        for path in ["HEAD", "packed-refs"] {
            if let Some(p) = output("git", &["rev-parse", "--git-path", path]) {
                println!("cargo:rerun-if-changed={p}");
            }
        }
        if let Some(head_ref) = output("git", &["symbolic-ref", "-q", "HEAD"])
            && let Some(p) = output("git", &["rev-parse", "--git-path", &head_ref])
        {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
