//! SIGINT/SIGTERM: a clean stop. The handler only stores to an atomic flag (async-signal-safe);
//! the engine's feed sees it, stops reading, every stage drains, the journal is sealed and
//! the process exits 0. A second signal while draining exits at once (status 130).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::engine::Controls;

/// Routes SIGINT and SIGTERM to `controls.stop`.
pub fn install(controls: &Controls) -> anyhow::Result<()> {
    install_flag(&controls.stop)
}

/// Routes SIGINT and SIGTERM to `flag`; a second signal after the flag is set terminates.
pub fn install_flag(flag: &Arc<AtomicBool>) -> anyhow::Result<()> {
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it runs when the flag is already set: the second signal.
        signal_hook::flag::register_conditional_shutdown(sig, 130, flag.clone())
            .context("installing the signal handler")?;
        signal_hook::flag::register(sig, flag.clone()).context("installing the signal handler")?;
    }
    Ok(())
}
