//! Versioned schema migrations of the signal store.
//!
//! The schema version is SQLite's `PRAGMA user_version` (0 = empty file). Migration `k`
//! (1-based, [`MIGRATIONS`]`[k − 1]`) takes a database from version `k − 1` to `k`; each runs
//! in its own `BEGIN IMMEDIATE` transaction together with the `user_version` update, so a
//! crash leaves the database at one version or the next, never in between, and two processes
//! opening the same file at once cannot both migrate.
//!
//! # Version history
//!
//! 1. `signals` (immutable: `BEFORE UPDATE`/`BEFORE DELETE` triggers abort), `signal_results`
//!    (one per filled signal; a closed result is immutable), `theory_performance`,
//!    `llm_usage`. All tables `STRICT`.
//! 2. `signal_results.max_adverse_pct` / `max_favorable_pct` (excursions while open), the
//!    `signal_expiries` table (actionable signals whose entry was never reached), and indexes
//!    for the store's queries (signals by variant and by symbol, theory rows by theory, LLM
//!    usage by time).

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

const V1: &str = r"
CREATE TABLE signals (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol           TEXT    NOT NULL,
    bar_open_time_ms INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL,
    direction        TEXT    NOT NULL CHECK (direction IN ('LONG', 'SHORT', 'HOLD')),
    confidence       REAL    NOT NULL,
    entry            REAL    NOT NULL,
    stop_loss        REAL    NOT NULL,
    take_profit      REAL    NOT NULL,
    reasoning        TEXT    NOT NULL,
    key_factors      TEXT    NOT NULL,
    variant          TEXT    NOT NULL,
    regime           TEXT    NOT NULL,
    theories         TEXT    NOT NULL,
    raw_response     TEXT,
    hold_reason      TEXT,
    validation       TEXT
) STRICT;

CREATE TRIGGER signals_no_update BEFORE UPDATE ON signals
BEGIN
    SELECT RAISE(ABORT, 'signals are immutable');
END;

CREATE TRIGGER signals_no_delete BEFORE DELETE ON signals
BEGIN
    SELECT RAISE(ABORT, 'signals are immutable');
END;

CREATE TABLE signal_results (
    signal_id    INTEGER PRIMARY KEY REFERENCES signals(id),
    entry        REAL    NOT NULL,
    exit         REAL,
    pnl_pct      REAL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('win', 'loss', 'breakeven', 'open')),
    exit_reason  TEXT    CHECK (exit_reason IN ('take_profit', 'stop_loss', 'timeout', 'manual')),
    hold_minutes REAL,
    opened_ms    INTEGER NOT NULL,
    closed_ms    INTEGER
) STRICT;

CREATE TRIGGER signal_results_closed_immutable BEFORE UPDATE ON signal_results
WHEN OLD.outcome <> 'open'
BEGIN
    SELECT RAISE(ABORT, 'a closed result is immutable');
END;

CREATE TRIGGER signal_results_no_delete BEFORE DELETE ON signal_results
BEGIN
    SELECT RAISE(ABORT, 'results are never deleted');
END;

CREATE TABLE theory_performance (
    signal_id    INTEGER NOT NULL REFERENCES signals(id),
    theory       TEXT    NOT NULL,
    contribution REAL    NOT NULL,
    correct      INTEGER NOT NULL CHECK (correct IN (0, 1)),
    PRIMARY KEY (signal_id, theory)
) STRICT;

CREATE TABLE llm_usage (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms             INTEGER NOT NULL,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    cache_hit_tokens  INTEGER NOT NULL CHECK (cache_hit_tokens >= 0),
    cost_usd          REAL    NOT NULL,
    status            TEXT    NOT NULL
) STRICT;
";

const V2: &str = r"
ALTER TABLE signal_results ADD COLUMN max_adverse_pct REAL;
ALTER TABLE signal_results ADD COLUMN max_favorable_pct REAL;

CREATE TABLE signal_expiries (
    signal_id  INTEGER PRIMARY KEY REFERENCES signals(id),
    expired_ms INTEGER NOT NULL
) STRICT;

CREATE TRIGGER signal_expiries_immutable BEFORE UPDATE ON signal_expiries
BEGIN
    SELECT RAISE(ABORT, 'expiries are immutable');
END;

CREATE INDEX signals_by_variant ON signals(variant, created_ms);
CREATE INDEX signals_by_symbol ON signals(symbol, bar_open_time_ms);
CREATE INDEX theory_performance_by_theory ON theory_performance(theory);
CREATE INDEX llm_usage_by_ts ON llm_usage(ts_ms);
";

/// The migrations in order; the schema version after applying the first `k` is `k`.
pub const MIGRATIONS: [&str; 2] = [V1, V2];

/// The version [`migrate`] brings a database to by default.
pub const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

/// The schema version (`PRAGMA user_version`) of an open database.
///
/// # Errors
/// [`StoreError::Sqlite`] if the pragma cannot be read.
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    u32::try_from(v).map_err(|_| StoreError::TooNew { found: v, supported: LATEST_VERSION })
}

/// Applies the migrations from the database's current version up to `target` (use
/// [`LATEST_VERSION`]; a lower target exists so tests can build an older schema). Returns the
/// version found before migrating.
///
/// # Errors
/// [`StoreError::TooNew`] if the file is newer than this build (it is left untouched),
/// [`StoreError::Sqlite`] if a migration fails (that migration is rolled back).
pub fn migrate(conn: &mut Connection, target: u32) -> Result<u32, StoreError> {
    let target = target.min(LATEST_VERSION);
    let before = version(conn)?;
    if before > LATEST_VERSION {
        return Err(StoreError::TooNew { found: i64::from(before), supported: LATEST_VERSION });
    }
    for (k, sql) in (1u32..).zip(MIGRATIONS.iter()) {
        if k > target {
            break;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        if version(&tx)? >= k {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", k)?;
        tx.commit()?;
    }
    Ok(before)
}
