//! `crpbot record`: raw venue frames (and REST snapshots) with local receive timestamps into
//! daily gzip files `<venue>_<yyyymmdd>.gz`, replayable with `crpbot replay`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::Venue;
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_feeds::session::record::DayFileRecorder;

use super::run::{LiveArgs, live_loop};

/// Arguments of `crpbot record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    live: LiveArgs,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

struct NoSink;
impl ReplaySink for NoSink {
    fn on_book(&mut self, _p: &Published<'_>) {}
}

pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    if args.live.venue == Venue::Sim {
        bail!("the simulator is deterministic from its seed: nothing to record");
    }
    let recorder = DayFileRecorder::new(&args.out, args.live.venue)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let rec = recorder.stats();
    // The books are kept too, so the session's resync logic runs exactly as in `run`.
    let stats = live_loop("crpbot record", &args.live, Some(Box::new(recorder)), &mut NoSink)?;
    let errors = rec.errors.load(Relaxed);
    println!(
        "{{\"lines\":{},\"bytes\":{},\"files\":{},\"write_errors\":{errors},\"messages\":{},\"snapshots\":{},\"reconnects\":{}}}",
        rec.lines.load(Relaxed),
        rec.bytes.load(Relaxed),
        rec.files.load(Relaxed),
        stats.messages,
        stats.snapshots,
        stats.reconnects
    );
    if errors > 0 {
        bail!("{errors} lines could not be written to {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}
