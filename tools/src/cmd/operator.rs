//! `crpbot kill` and `crpbot rearm`: the operator's kill switch, as a flag file a running
//! `crpbot run`/`demo` polls from its control thread (never from the hot lane).
//!
//! `kill` creates the file: the running process engages its breaker's kill switch within one
//! control tick (≈ 20 ms) and journals it; every later order is rejected. `rearm` removes it:
//! the process clears the switch and re-arms the breaker with the operator token it holds — a
//! re-arm the breaker still refuses while a loss floor is breached.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use crpbot_risk::KillFlag;

/// Arguments of `crpbot kill` and `crpbot rearm`.
#[derive(Debug, Args)]
pub struct FlagArgs {
    /// The kill flag file the running process watches (its `--kill-flag`).
    #[arg(long, default_value = "crpbot.kill")]
    kill_flag: PathBuf,
}

/// `crpbot kill`.
pub fn kill(args: FlagArgs) -> anyhow::Result<ExitCode> {
    let flag = KillFlag::at(&args.kill_flag);
    flag.engage().with_context(|| format!("creating {}", flag.path().display()))?;
    eprintln!(
        "crpbot kill: {} created; trading halts at the next control tick",
        flag.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `crpbot rearm`.
pub fn rearm(args: FlagArgs) -> anyhow::Result<ExitCode> {
    let flag = KillFlag::at(&args.kill_flag);
    flag.clear().with_context(|| format!("removing {}", flag.path().display()))?;
    eprintln!(
        "crpbot rearm: {} removed; the breaker re-arms unless a loss limit still holds",
        flag.path().display()
    );
    Ok(ExitCode::SUCCESS)
}
