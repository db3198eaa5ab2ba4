//! The signal store: every swing signal, its paper-trade result, per-theory scores and LLM
//! usage in one embedded SQLite file (rusqlite, bundled SQLite).
//!
//! # Durability
//!
//! * WAL journal, `synchronous = FULL`: a commit fsyncs the WAL, so an acknowledged write
//!   survives a process kill *and* a power cut. `NORMAL` would be enough for kill -9 (the page
//!   cache survives) but may lose the last commits on power loss; signals arrive at most a few
//!   per symbol and hour, so the fsync per commit costs nothing that matters.
//! * `busy_timeout` 5 s: a second process (the CLI reading while the bot writes) waits for
//!   the lock instead of failing at once.
//! * **Acknowledged** = the method returned `Ok`: [`SignalStore::insert_signal`] returns the
//!   new row id only after its transaction committed. Tested with `kill -9` during writes
//!   (`tests/store_crash.rs`): `PRAGMA integrity_check` is `ok` and every acknowledged signal
//!   is present, field for field.
//! * `foreign_keys = ON`: results, expiries and theory rows must name an existing signal.
//!
//! # Immutability
//!
//! Signals are never modified or deleted after creation: `BEFORE UPDATE` / `BEFORE DELETE`
//! triggers on `signals` abort the statement (so even a hand-written `UPDATE` in the sqlite3
//! shell fails). A result may go from `open` to closed once; a closed result, an expiry and a
//! theory row are immutable too.
//!
//! # Schema
//!
//! Versioned migrations in [`schema`] (`PRAGMA user_version`); [`SignalStore::open`] brings
//! any older file to [`schema::LATEST_VERSION`] and refuses a newer one. Theory values are a
//! JSON object written with exact float round-tripping ([`codec::theories_to_json`]); key
//! factors a JSON array of strings.

pub mod codec;
mod query;
pub mod replay;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::outcome::{ClosedResult, TheoryScore, TrackerEvent};
use super::{ExitReason, Outcome, SwingSignal};
use codec::{exit_reason_str, outcome_str, regime_str, theories_to_json};

pub use query::{CSV_HEADER, GroupStats, SignalFilter, StoreStats, TheoryStats, UsageTotals};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error (I/O, constraint or trigger violation, …).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file's schema is newer than this build understands.
    #[error("database schema version {found} is newer than this build's {supported}")]
    TooNew {
        /// `user_version` found.
        found: i64,
        /// Latest version this build knows.
        supported: u32,
    },
    /// A number to be stored is NaN or infinite (SQLite would store NULL).
    #[error("field {field} is not a finite number")]
    NonFinite {
        /// Field name.
        field: &'static str,
    },
    /// A count does not fit SQLite's signed 64-bit integers.
    #[error("field {field} is too large for the store")]
    TooLarge {
        /// Field name.
        field: &'static str,
    },
    /// A stored row cannot be decoded (edited by hand, or written by an incompatible build).
    #[error("row {id}: {what}")]
    Corrupt {
        /// Row id.
        id: i64,
        /// What is wrong.
        what: String,
    },
    /// The signal does not exist.
    #[error("no signal with id {0}")]
    NotFound(i64),
    /// Writing an export failed.
    #[error("export: {0}")]
    Io(#[from] std::io::Error),
}

/// A paper-trade result as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalResult {
    /// Fill price.
    pub entry: f64,
    /// Exit price (closed results).
    pub exit: Option<f64>,
    /// Profit or loss in percent (closed results).
    pub pnl_pct: Option<f64>,
    /// `Open` until closed.
    pub outcome: Outcome,
    /// Why it closed.
    pub exit_reason: Option<ExitReason>,
    /// Minutes held.
    pub hold_minutes: Option<f64>,
    /// Fill time.
    pub opened_ms: i64,
    /// Close time.
    pub closed_ms: Option<i64>,
    /// Worst `pnl_pct` while open (schema ≥ 2; `None` for rows closed before).
    pub max_adverse_pct: Option<f64>,
    /// Best `pnl_pct` while open (schema ≥ 2).
    pub max_favorable_pct: Option<f64>,
}

/// A signal as stored, with its result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSignal {
    /// Row id.
    pub id: i64,
    /// The signal, exactly as inserted.
    pub signal: SwingSignal,
    /// Validation outcome recorded with it (`None` = not validated).
    pub validation: Option<String>,
    /// The paper-trade result, once filled.
    pub result: Option<SignalResult>,
    /// When the entry was never reached: the expiry time.
    pub expired_ms: Option<i64>,
}

/// One LLM call's usage, for budgets and cost reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmUsageRow {
    /// Call time, ms.
    pub ts_ms: i64,
    /// Model name.
    pub model: String,
    /// Prompt tokens (cache hits included).
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Prompt tokens served from the provider's cache.
    pub cache_hit_tokens: u64,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// Call status, e.g. `ok`, `timeout`, `http_429`, `budget`.
    pub status: String,
}

/// The embedded signal store. Not `Sync`: one owner per connection; open the file again
/// for another thread or process (WAL lets readers run beside the writer).
#[derive(Debug)]
pub struct SignalStore {
    conn: Connection,
    path: PathBuf,
}

fn finite(v: f64, field: &'static str) -> Result<f64, StoreError> {
    if v.is_finite() { Ok(v) } else { Err(StoreError::NonFinite { field }) }
}

fn count(v: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::TooLarge { field })
}

impl SignalStore {
    /// Opens (creating if needed) the store at `path`, sets WAL / `synchronous=FULL` /
    /// foreign keys / busy timeout, and migrates the schema to the latest version.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] (cannot open, not a database, migration failed) or
    /// [`StoreError::TooNew`].
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::swing::signal::store::{schema, SignalStore};
    /// let dir = std::env::temp_dir().join(format!("crpbot-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = SignalStore::open(dir.join("signals.sqlite")).unwrap();
    /// assert_eq!(store.schema_version().unwrap(), schema::LATEST_VERSION);
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt { id: 0, what: format!("journal_mode is {mode}") });
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn, schema::LATEST_VERSION)?;
        Ok(Self { conn, path })
    }

    /// The file path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema::version(&self.conn)
    }

    /// The underlying connection, for read-only inspection (e.g. `PRAGMA integrity_check`).
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Inserts `signal` with its validation outcome and returns its id once committed.
    ///
    /// # Errors
    /// [`StoreError::NonFinite`] for a NaN/infinite price, confidence or theory value;
    /// [`StoreError::Sqlite`] if the write fails (nothing is stored then).
    pub fn insert_signal(
        &mut self,
        signal: &SwingSignal,
        validation: Option<&str>,
    ) -> Result<i64, StoreError> {
        let s = signal;
        let theories =
            theories_to_json(&s.theories).ok_or(StoreError::NonFinite { field: "theories" })?;
        let key_factors = serde_json::Value::from(s.key_factors.clone()).to_string();
        self.conn.execute(
            "INSERT INTO signals (symbol, bar_open_time_ms, created_ms, direction, confidence,
                entry, stop_loss, take_profit, reasoning, key_factors, variant, regime, theories,
                raw_response, hold_reason, validation)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                s.symbol,
                s.bar_open_time_ms,
                s.created_ms,
                s.direction.as_str(),
                finite(s.confidence, "confidence")?,
                finite(s.entry, "entry")?,
                finite(s.stop_loss, "stop_loss")?,
                finite(s.take_profit, "take_profit")?,
                s.reasoning,
                key_factors,
                s.variant,
                regime_str(s.regime),
                theories,
                s.raw_response,
                s.hold_reason,
                validation,
            ],
        )?;
        // Autocommit: `execute` returned after the statement's implicit transaction committed.
        Ok(self.conn.last_insert_rowid())
    }

    /// Records that signal `signal_id` was filled at `entry` at `opened_ms` (an `open` result).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] if the signal does not exist or already has a result.
    pub fn open_result(
        &mut self,
        signal_id: i64,
        entry: f64,
        opened_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO signal_results (signal_id, entry, outcome, opened_ms)
             VALUES (?1, ?2, 'open', ?3)",
            params![signal_id, finite(entry, "entry")?, opened_ms],
        )?;
        Ok(())
    }

    /// Closes the result of `r.signal_id` and records its theory scores, in one transaction.
    /// A result not opened before is inserted closed.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] if the result is already closed (trigger) or the signal does
    /// not exist; [`StoreError::NonFinite`].
    pub fn close_result(&mut self, r: &ClosedResult) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        close_in(&tx, r)?;
        tx.commit()?;
        Ok(())
    }

    /// Records per-theory contribution and correctness for `signal_id`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] (unknown signal, a theory already recorded);
    /// [`StoreError::NonFinite`].
    pub fn record_theory_performance(
        &mut self,
        signal_id: i64,
        scores: &[TheoryScore],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        theories_in(&tx, signal_id, scores)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that `signal_id` expired unfilled at `expired_ms`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] (unknown signal, already expired).
    pub fn record_expiry(&mut self, signal_id: i64, expired_ms: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO signal_expiries (signal_id, expired_ms) VALUES (?1, ?2)",
            params![signal_id, expired_ms],
        )?;
        Ok(())
    }

    /// Applies a batch of tracker events (fills, closes with theory scores, expiries) in one
    /// transaction: all or nothing.
    ///
    /// # Errors
    /// As the individual operations; on error nothing of the batch is stored.
    pub fn apply_events(&mut self, events: &[TrackerEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in events {
            match e {
                TrackerEvent::Filled { signal_id, entry, opened_ms } => {
                    tx.execute(
                        "INSERT INTO signal_results (signal_id, entry, outcome, opened_ms)
                         VALUES (?1, ?2, 'open', ?3)",
                        params![signal_id, finite(*entry, "entry")?, opened_ms],
                    )?;
                }
                TrackerEvent::Closed(r) => close_in(&tx, r)?,
                TrackerEvent::Expired { signal_id, expired_ms } => {
                    tx.execute(
                        "INSERT INTO signal_expiries (signal_id, expired_ms) VALUES (?1, ?2)",
                        params![signal_id, expired_ms],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores one LLM call's usage; returns its row id once committed.
    ///
    /// # Errors
    /// [`StoreError::TooLarge`], [`StoreError::NonFinite`], [`StoreError::Sqlite`].
    pub fn insert_llm_usage(&mut self, u: &LlmUsageRow) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO llm_usage (ts_ms, model, prompt_tokens, completion_tokens,
                cache_hit_tokens, cost_usd, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                u.ts_ms,
                u.model,
                count(u.prompt_tokens, "prompt_tokens")?,
                count(u.completion_tokens, "completion_tokens")?,
                count(u.cache_hit_tokens, "cache_hit_tokens")?,
                finite(u.cost_usd, "cost_usd")?,
                u.status,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The signal with id `id`, with its result.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`], [`StoreError::Corrupt`].
    pub fn get(&self, id: i64) -> Result<Option<StoredSignal>, StoreError> {
        let sql = format!("{} WHERE s.id = ?1", query::SELECT_SIGNALS);
        let raw = self.conn.query_row(&sql, [id], query::RawRow::read).optional()?;
        raw.map(query::RawRow::decode).transpose()
    }

    /// Signals matching `filter`, by id (ascending, or descending with `newest_first`).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`], [`StoreError::Corrupt`].
    pub fn list(&self, filter: &SignalFilter) -> Result<Vec<StoredSignal>, StoreError> {
        query::list(&self.conn, filter)
    }

    /// Actionable signals neither closed nor expired (pending or open): what a tracker must
    /// resume after a restart, by id.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`], [`StoreError::Corrupt`].
    pub fn unresolved(&self) -> Result<Vec<StoredSignal>, StoreError> {
        query::unresolved(&self.conn)
    }

    /// Totals of LLM usage with `ts_ms >= since_ms` (seeds daily budgets after a restart).
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn usage_totals(&self, since_ms: i64) -> Result<UsageTotals, StoreError> {
        query::usage_totals(&self.conn, since_ms)
    }

    /// Counts and win rates per variant, per symbol and per theory, and LLM usage.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        query::stats(&self.conn)
    }

    /// Closed `(outcome, pnl_pct)` per variant, for [`super::ab::ab_report`].
    ///
    /// # Errors
    /// [`StoreError::Sqlite`], [`StoreError::Corrupt`].
    pub fn closed_by_variant(
        &self,
    ) -> Result<std::collections::BTreeMap<String, Vec<(Outcome, f64)>>, StoreError> {
        query::closed_by_variant(&self.conn)
    }

    /// Writes every signal with its result as CSV (header + one row per signal, by id);
    /// returns the number of rows. Columns: [`CSV_HEADER`].
    ///
    /// # Errors
    /// [`StoreError::Io`], [`StoreError::Sqlite`], [`StoreError::Corrupt`].
    pub fn export_csv(&self, out: &mut dyn std::io::Write) -> Result<usize, StoreError> {
        query::export_csv(&self.conn, out)
    }
}

fn theories_in(
    tx: &rusqlite::Transaction<'_>,
    signal_id: i64,
    scores: &[TheoryScore],
) -> Result<(), StoreError> {
    let mut st = tx.prepare_cached(
        "INSERT INTO theory_performance (signal_id, theory, contribution, correct)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for s in scores {
        st.execute(params![
            signal_id,
            s.theory,
            finite(s.contribution, "contribution")?,
            i64::from(s.correct)
        ])?;
    }
    Ok(())
}

fn close_in(tx: &rusqlite::Transaction<'_>, r: &ClosedResult) -> Result<(), StoreError> {
    if r.outcome == Outcome::Open {
        return Err(StoreError::Corrupt {
            id: r.signal_id,
            what: "closing with outcome open".into(),
        });
    }
    let n = tx.execute(
        "INSERT INTO signal_results (signal_id, entry, exit, pnl_pct, outcome, exit_reason,
            hold_minutes, opened_ms, closed_ms, max_adverse_pct, max_favorable_pct)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (signal_id) DO UPDATE SET entry = excluded.entry, exit = excluded.exit,
            pnl_pct = excluded.pnl_pct, outcome = excluded.outcome,
            exit_reason = excluded.exit_reason, hold_minutes = excluded.hold_minutes,
            opened_ms = excluded.opened_ms, closed_ms = excluded.closed_ms,
            max_adverse_pct = excluded.max_adverse_pct,
            max_favorable_pct = excluded.max_favorable_pct",
        params![
            r.signal_id,
            finite(r.entry, "entry")?,
            finite(r.exit, "exit")?,
            finite(r.pnl_pct, "pnl_pct")?,
            outcome_str(r.outcome),
            exit_reason_str(r.exit_reason),
            finite(r.hold_minutes, "hold_minutes")?,
            r.opened_ms,
            r.closed_ms,
            finite(r.max_adverse_pct, "max_adverse_pct")?,
            finite(r.max_favorable_pct, "max_favorable_pct")?,
        ],
    )?;
    if n != 1 {
        return Err(StoreError::NotFound(r.signal_id));
    }
    theories_in(tx, r.signal_id, &r.theory_scores)
}
