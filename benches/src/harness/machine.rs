//! What a report was measured on: [`MachineInfo`], [`git_rev`] and a UTC timestamp.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The machine a report was measured on. Every field is best effort: `"unknown"` (or `None`)
/// where it cannot be read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// CPU model (`model name` in `/proc/cpuinfo`).
    pub cpu_model: String,
    /// Logical cores this process may use (`std::thread::available_parallelism`, which honours
    /// affinity masks and cgroup quotas).
    pub cores: usize,
    /// Kernel release (`/proc/sys/kernel/osrelease`, else `uname -r`).
    pub kernel: String,
    /// Operating system (`std::env::consts::OS`).
    pub os: String,
    /// CPU architecture (`std::env::consts::ARCH`).
    pub arch: String,
    /// The compiler that built this binary (`rustc --version` at build time).
    pub rustc: String,
    /// 1, 5 and 15 minute load averages when detected (`/proc/loadavg`): above the core count,
    /// the run shared its cores and wall-clock figures are inflated.
    pub load_avg: Option<[f64; 3]>,
}

impl MachineInfo {
    /// Reads the machine's description (a few small file reads; control path).
    ///
    /// # Examples
    /// ```
    /// let m = crpbot_benches::harness::MachineInfo::detect();
    /// assert!(m.cores >= 1 && !m.cpu_model.is_empty());
    /// ```
    pub fn detect() -> MachineInfo {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        MachineInfo {
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            kernel: kernel().unwrap_or_else(|| "unknown".to_owned()),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            rustc: option_env!("CRPBOT_BENCH_RUSTC").unwrap_or("unknown").to_owned(),
            load_avg: std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| load_avg(&s)),
        }
    }

    /// The current 1-minute load average (`None` where `/proc/loadavg` is absent), e.g. to
    /// note the load at the end of a run next to the one at the start.
    pub fn load_now() -> Option<f64> {
        std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| load_avg(&s)).map(|l| l[0])
    }
}

/// The first `model name` (x86) or `Processor` / `Hardware` (ARM) line of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Processor", "Hardware", "cpu model"].iter().find_map(|key| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_owned())
        })
    })
}

fn kernel() -> Option<String> {
    if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        let s = s.trim();
        if !s.is_empty() {
            return Some(s.to_owned());
        }
    }
    command_line(None, "uname", &["-r"])
}

/// Parses the three load averages of a `/proc/loadavg` line.
fn load_avg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// The first line of a command's standard output, if it succeeds and prints one.
fn command_line(dir: Option<&Path>, cmd: &str, args: &[&str]) -> Option<String> {
    let mut c = Command::new(cmd);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c.args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.lines().next().unwrap_or("").trim().to_owned())
}

/// The source revision: `git rev-parse --short HEAD` of the tree this crate was built from (at
/// run time), with `-dirty` appended if tracked files have uncommitted changes; else the
/// revision recorded at build time (`CRPBOT_BENCH_GIT_REV`, no dirty check possible); else
/// `"unknown"`. Runs `git` (control path).
///
/// # Examples
/// ```
/// let rev = crpbot_benches::harness::git_rev();
/// assert!(!rev.is_empty());
/// ```
pub fn git_rev() -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [Some(src), None];
    for dir in dirs {
        let Some(rev) = command_line(dir, "git", &["rev-parse", "--short", "HEAD"]) else {
            continue;
        };
        if rev.is_empty() {
            continue;
        }
        let dirty = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .current_dir(dir.unwrap_or(Path::new(".")))
            .output()
            .ok()
            .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
        return if dirty { format!("{rev}-dirty") } else { rev };
    }
    option_env!("CRPBOT_BENCH_GIT_REV").unwrap_or("unknown").to_owned()
}

/// The current time as RFC 3339 UTC with second precision, e.g. `2026-11-21T15:05:00Z`.
pub fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_utc(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`).
pub(crate) fn format_utc(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_723_161_255), "2024-08-08T23:54:15Z");
        assert_eq!(format_utc(4_102_444_799), "2099-12-31T23:59:59Z");
        assert!(utc_now().starts_with("20") && utc_now().ends_with('Z'));
    }

    #[test]
    fn parses_proc_files() {
        let x86 =
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n";
        assert_eq!(cpu_model(x86).as_deref(), Some("Intel(R) Xeon(R) Processor"));
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nHardware\t: BCM2835\n";
        assert_eq!(cpu_model(arm).as_deref(), Some("BCM2835"));
        assert_eq!(cpu_model("flags: x\n"), None);
        assert_eq!(load_avg("2.19 1.02 1.20 6/125 31252\n"), Some([2.19, 1.02, 1.20]));
        assert_eq!(load_avg("garbage"), None);
    }

    #[test]
    fn detects_this_machine() {
        let m = MachineInfo::detect();
        assert!(m.cores >= 1);
        assert!(!m.kernel.is_empty() && !m.os.is_empty() && !m.arch.is_empty());
        if cfg!(target_os = "linux") {
            assert_ne!(m.kernel, "unknown");
            assert!(m.load_avg.is_some());
        }
        // Built by cargo: the build script found rustc.
        assert!(m.rustc.starts_with("rustc "), "{}", m.rustc);
        let rev = git_rev();
        assert!(!rev.is_empty() && !rev.contains('\n'), "{rev}");
    }
}
