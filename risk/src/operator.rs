//! Operator controls: the re-arm token, the in-process kill switch and the kill file flag.
//!
//! Boundary: strategies never hold any of these. crpbot-strategies does not depend on
//! crpbot-risk (the workspace dependency graph enforces it), so strategy code cannot even name
//! an [`OperatorToken`]; the single token for an engine is returned by
//! [`crate::RiskEngine::new`] to whoever builds the pipeline (the tools binary), which keeps
//! it on the control thread.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// The capability to re-arm a halted breaker. Exactly one exists per [`crate::RiskEngine`];
/// it is neither `Clone` nor `Copy`, and a token of one engine does not re-arm another.
#[derive(Debug)]
pub struct OperatorToken {
    pub(crate) id: u64,
}

impl OperatorToken {
    pub(crate) fn issue() -> OperatorToken {
        OperatorToken { id: NEXT_TOKEN.fetch_add(1, Ordering::Relaxed) }
    }
}

/// A kill switch shared between a control thread (signal handler, file-flag poller, CLI) and
/// the pipeline thread that owns the engine. Engaging it halts the engine at its next `check`
/// or event (one relaxed atomic load, no syscall). Clearing it does not re-arm: that takes the
/// [`OperatorToken`].
///
/// # Examples
/// ```
/// use crpbot_risk::KillSwitch;
/// let k = KillSwitch::default();
/// let remote = k.clone();
/// remote.engage();
/// assert!(k.is_engaged());
/// ```
#[derive(Clone, Debug, Default)]
pub struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    /// Engages the switch.
    pub fn engage(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Clears the switch (the engine stays halted until re-armed).
    pub fn clear(&self) {
        self.0.store(false, Ordering::Release);
    }

    /// True while engaged.
    #[inline]
    pub fn is_engaged(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A kill flag file: `crpbot kill` creates it, `crpbot rearm` removes it, and the control
/// thread polls [`KillFlag::is_engaged`] and engages the [`KillSwitch`]. File I/O: never call
/// it on the pipeline thread.
///
/// # Examples
/// ```
/// use crpbot_risk::KillFlag;
/// let dir = std::env::temp_dir().join(format!("crpbot-killflag-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let flag = KillFlag::at(dir.join("KILL"));
/// assert!(!flag.is_engaged());
/// flag.engage().unwrap();
/// assert!(flag.is_engaged());
/// flag.clear().unwrap();
/// assert!(!flag.is_engaged());
/// flag.clear().unwrap(); // clearing twice is fine
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillFlag {
    path: PathBuf,
}

impl KillFlag {
    /// The flag at `path`.
    pub fn at(path: impl Into<PathBuf>) -> KillFlag {
        KillFlag { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the flag file (idempotent).
    pub fn engage(&self) -> io::Result<()> {
        std::fs::write(&self.path, b"killed\n")
    }

    /// Removes the flag file (idempotent).
    pub fn clear(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    /// True when the flag file exists. An error reading its metadata other than "not found"
    /// counts as engaged (fail closed).
    pub fn is_engaged(&self) -> bool {
        match std::fs::metadata(&self.path) {
            Ok(_) => true,
            Err(e) => e.kind() != io::ErrorKind::NotFound,
        }
    }
}

/// Why a re-arm was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RearmError {
    /// The token belongs to another engine.
    #[error("re-arm refused: operator token of another engine")]
    WrongToken,
    /// The kill switch is still engaged.
    #[error("re-arm refused: the kill switch is still engaged")]
    KillEngaged,
    /// Equity is still below a loss floor.
    #[error("re-arm refused: equity is still below a loss floor")]
    StillBreached,
}
