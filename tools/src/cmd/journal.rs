//! `crpbot journal verify|dump|stats`, and the journal sink other commands write through.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use crpbot_core::{
    EquitySnapshot, InstrumentId, MarketEvent, PositionSnapshot, Registry, SignalRecord, Venue,
};
use crpbot_journal::codec::{self, ControlKind, Decoded, MAX_TYPED_LEN};
use crpbot_journal::{Journal, JournalConfig, Reader, RecordType, Writer};
use serde_json::{Value, json};

/// Arguments of `crpbot journal`.
#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    command: JournalCommand,
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Check every segment: exit 0 only if all are intact; print counts and the first bad offset.
    Verify {
        /// Journal directory.
        dir: PathBuf,
    },
    /// Print records as JSON lines or CSV.
    Dump {
        /// Journal directory.
        dir: PathBuf,
        /// Only this record type (raw_frame, market, intent, verdict, fill, control, ...).
        #[arg(long = "type")]
        record_type: Option<String>,
        /// Start at this sequence number.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DumpFormat::Jsonl)]
        format: DumpFormat,
        /// Stop after this many records.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Counts per type, bytes, sequence and time ranges.
    Stats {
        /// Journal directory.
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DumpFormat {
    Jsonl,
    Csv,
}

const TYPE_NAMES: [(u16, &str); 11] = [
    (RecordType::RAW_FRAME, "raw_frame"),
    (RecordType::MARKET_EVENT, "market"),
    (RecordType::BOOK_STATE, "book_state"),
    (RecordType::SIGNAL, "signal"),
    (RecordType::ORDER_INTENT, "intent"),
    (RecordType::RISK_VERDICT, "verdict"),
    (RecordType::FILL, "fill"),
    (RecordType::POSITION, "position"),
    (RecordType::EQUITY, "equity"),
    (RecordType::CONTROL, "control"),
    (RecordType::TELEMETRY, "telemetry"),
];

fn type_name(t: u16) -> String {
    TYPE_NAMES
        .iter()
        .find(|(n, _)| *n == t)
        .map_or_else(|| format!("type_{t}"), |(_, s)| (*s).to_owned())
}

fn type_number(name: &str) -> anyhow::Result<u16> {
    if let Some((n, _)) = TYPE_NAMES.iter().find(|(_, s)| s.eq_ignore_ascii_case(name)) {
        return Ok(*n);
    }
    name.parse().ok().with_context(|| {
        let names: Vec<&str> = TYPE_NAMES.iter().map(|(_, s)| *s).collect();
        format!("unknown record type {name:?} (one of {})", names.join(", "))
    })
}

pub fn run(args: JournalArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        JournalCommand::Verify { dir } => verify(&dir),
        JournalCommand::Dump { dir, record_type, from, format, limit } => {
            let filter = record_type.as_deref().map(type_number).transpose()?;
            dump(&dir, filter, from, format, limit)
        }
        JournalCommand::Stats { dir } => stats(&dir),
    }
}

fn verify(dir: &Path) -> anyhow::Result<ExitCode> {
    let r = crpbot_journal::verify(dir).with_context(|| format!("opening {}", dir.display()))?;
    let spot = |b: &Option<crpbot_journal::BadSpot>| {
        b.as_ref().map(|b| json!({"segment": b.segment.display().to_string(), "offset": b.offset, "reason": b.reason}))
    };
    let out = json!({
        "ok": r.is_ok(),
        "segments": r.segments,
        "records": r.records,
        "seq_range": r.seq_range,
        "torn_tail": spot(&r.torn_tail),
        "quarantined": r.quarantined.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "first_bad": spot(&r.first_bad),
    });
    println!("{out}");
    if let Some(b) = &r.first_bad {
        eprintln!(
            "crpbot journal verify: first bad record in {} at offset {}: {}",
            b.segment.display(),
            b.offset,
            b.reason
        );
    }
    Ok(if r.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn stats(dir: &Path) -> anyhow::Result<ExitCode> {
    let s = crpbot_journal::stats(dir).with_context(|| format!("opening {}", dir.display()))?;
    let per_type: serde_json::Map<String, Value> =
        s.per_type.iter().map(|(t, n)| (type_name(*t), json!(n))).collect();
    println!(
        "{}",
        json!({
            "records": s.records,
            "per_type": per_type,
            "payload_bytes": s.payload_bytes,
            "file_bytes": s.file_bytes,
            "seq_range": s.seq_range,
            "ts_range_ns": s.ts_range,
            "read_errors": s.read_errors,
        })
    );
    Ok(if s.read_errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A decoded record as JSON (prices and sizes as raw ticks/lots; the registry gives decimals).
fn record_json(reg: &Registry, seq: u64, t: u16, ver: u16, ts_ns: i64, payload: &[u8]) -> Value {
    let mut v = json!({"seq": seq, "ts_ns": ts_ns, "type": type_name(t)});
    let body = match codec::decode(t, ver, payload) {
        Ok(d) => decoded_json(reg, &d),
        Err(e) => json!({"undecoded_bytes": payload.len(), "error": e.to_string()}),
    };
    if let (Some(obj), Value::Object(b)) = (v.as_object_mut(), body) {
        obj.extend(b);
    }
    v
}

fn px_text(reg: &Registry, id: crpbot_core::InstrumentId, px: i64) -> Value {
    reg.try_get(id).map_or(json!(px), |i| json!(i.price.format(px)))
}

fn qty_text(reg: &Registry, id: crpbot_core::InstrumentId, qty: i64) -> Value {
    reg.try_get(id).map_or(json!(qty), |i| json!(i.qty.format(qty)))
}

fn symbol(reg: &Registry, id: crpbot_core::InstrumentId) -> Value {
    reg.try_get(id).map_or(json!(id.0), |i| json!(i.symbol.as_str()))
}

fn decoded_json(reg: &Registry, d: &Decoded<'_>) -> Value {
    match d {
        Decoded::RawFrame { venue, instrument, frame } => {
            json!({"venue": venue.name(), "context": instrument.map(|i| symbol(reg, i)), "frame": String::from_utf8_lossy(frame)})
        }
        Decoded::Market(ev) => match ev {
            MarketEvent::Snapshot(s) => {
                json!({"event": "snapshot", "symbol": symbol(reg, s.instrument), "update_id": s.update_id, "n_bids": s.n_bids, "n_asks": s.n_asks, "ts_exch_ns": s.ts_exch_ns, "ts_local_ns": s.ts_local_ns})
            }
            MarketEvent::Level(l) => {
                json!({"event": "level", "symbol": symbol(reg, l.instrument), "side": format!("{:?}", l.side), "px": px_text(reg, l.instrument, l.px.0), "qty": qty_text(reg, l.instrument, l.qty.0), "update_id": l.update_id, "flags": l.flags, "ts_exch_ns": l.ts_exch_ns, "ts_local_ns": l.ts_local_ns})
            }
            MarketEvent::Trade(t) => {
                json!({"event": "trade", "symbol": symbol(reg, t.instrument), "aggressor": format!("{:?}", t.aggressor), "px": px_text(reg, t.instrument, t.px.0), "qty": qty_text(reg, t.instrument, t.qty.0), "trade_id": t.trade_id, "ts_exch_ns": t.ts_exch_ns, "ts_local_ns": t.ts_local_ns})
            }
            MarketEvent::Bbo(b) => {
                json!({"event": "bbo", "symbol": symbol(reg, b.instrument), "bid_px": px_text(reg, b.instrument, b.bid_px.0), "bid_qty": qty_text(reg, b.instrument, b.bid_qty.0), "ask_px": px_text(reg, b.instrument, b.ask_px.0), "ask_qty": qty_text(reg, b.instrument, b.ask_qty.0), "update_id": b.update_id, "ts_local_ns": b.ts_local_ns})
            }
            MarketEvent::State(c) => {
                json!({"event": "book_state", "symbol": symbol(reg, c.instrument), "state": format!("{:?}", c.state), "reason": format!("{:?}", c.reason), "update_id": c.update_id, "ts_local_ns": c.ts_local_ns})
            }
            MarketEvent::Mark(m) => {
                json!({"event": "mark_price", "symbol": symbol(reg, m.instrument), "mark_px": px_text(reg, m.instrument, m.mark_px.0), "index_px": px_text(reg, m.instrument, m.index_px.0), "funding_rate": m.funding_rate_e12 as f64 / 1e12, "next_funding_ns": m.next_funding_ns, "ts_exch_ns": m.ts_exch_ns, "ts_local_ns": m.ts_local_ns})
            }
        },
        Decoded::Intent(i) => {
            json!({"client_id": i.client_id.0, "symbol": symbol(reg, i.instrument), "strategy": i.strategy.0, "reason": i.reason, "side": format!("{:?}", i.side), "order_type": format!("{:?}", i.order_type), "action": format!("{:?}", i.action), "px": px_text(reg, i.instrument, i.px.0), "qty": qty_text(reg, i.instrument, i.qty.0), "stop_px": px_text(reg, i.instrument, i.stop_px.0), "take_profit_px": px_text(reg, i.instrument, i.take_profit_px.0), "reduce_only": i.reduce_only})
        }
        Decoded::Verdict(v) => {
            json!({"client_id": v.client_id.0, "symbol": symbol(reg, v.instrument), "strategy": v.strategy.0, "code": v.code, "accepted": v.accepted})
        }
        Decoded::Fill(f) => {
            json!({"client_id": f.client_id.0, "symbol": symbol(reg, f.instrument), "strategy": f.strategy.0, "side": format!("{:?}", f.side), "px": px_text(reg, f.instrument, f.px.0), "qty": qty_text(reg, f.instrument, f.qty.0), "fee": f.fee.to_f64(), "liquidity": format!("{:?}", f.liquidity), "last": f.last})
        }
        Decoded::Signal(s) => {
            let v = |x: i64| SignalRecord::value(x).map_or(Value::Null, |f| json!(f));
            json!({"client_id": s.client_id.0, "symbol": symbol(reg, s.instrument), "strategy": s.strategy.0, "reason": s.reason, "microprice_ticks": v(s.microprice), "imbalance": v(s.imbalance), "ofi_norm": v(s.ofi_norm), "vwap_dev_bps": v(s.vwap_dev_bps)})
        }
        Decoded::Position(p) => {
            json!({"symbol": symbol(reg, p.instrument), "strategy": p.strategy.0, "qty": qty_text(reg, p.instrument, p.qty_lots), "cost": p.cost.to_f64(), "realized": p.realized.to_f64(), "fees": p.fees.to_f64()})
        }
        Decoded::Equity(e) => {
            json!({"equity": e.equity.to_f64(), "fees": e.fees.to_f64(), "closed_trades": e.closed_trades, "open_positions": e.open_positions, "halted": e.halted})
        }
        Decoded::Control { kind, text } => json!({"control": format!("{kind:?}"), "text": text}),
        _ => json!({}),
    }
}

fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn dump(
    dir: &Path,
    filter: Option<u16>,
    from: u64,
    format: DumpFormat,
    limit: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let reg = Registry::with_defaults();
    let mut reader = Reader::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if matches!(format, DumpFormat::Csv) {
        writeln!(out, "seq,ts_ns,type,fields")?;
    }
    let (mut n, mut errors) = (0u64, 0u64);
    while let Some(rec) = reader.next_record() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors += 1;
                eprintln!("crpbot journal dump: {e}");
                continue;
            }
        };
        if rec.seq < from || filter.is_some_and(|t| t != rec.record_type) {
            continue;
        }
        let v = record_json(&reg, rec.seq, rec.record_type, rec.ver, rec.ts_ns, rec.payload);
        let written = match format {
            DumpFormat::Jsonl => writeln!(out, "{v}"),
            DumpFormat::Csv => {
                let mut fields = v.as_object().cloned().unwrap_or_default();
                for k in ["seq", "ts_ns", "type"] {
                    fields.remove(k);
                }
                let plain = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let rest: Vec<String> =
                    fields.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect();
                writeln!(
                    out,
                    "{},{},{},{}",
                    rec.seq,
                    rec.ts_ns,
                    type_name(rec.record_type),
                    csv_field(&json!(rest.join(";")))
                )
            }
        };
        match written {
            Ok(()) => {}
            // A closed pipe (`| head`) ends the dump quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(e.into()),
        }
        n += 1;
        if limit.is_some_and(|l| n >= l) {
            break;
        }
    }
    out.flush().ok();
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Writes raw frames, market events and control records for a command; the first error halts
/// writing and is reported by [`JournalSink::finish`].
pub struct JournalSink {
    writer: Writer,
    venue: Venue,
    scratch: Vec<u8>,
    error: Option<anyhow::Error>,
    written: u64,
}

impl std::fmt::Debug for JournalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalSink").field("written", &self.written).finish_non_exhaustive()
    }
}

impl JournalSink {
    /// Opens (and recovers) a journal directory and records the start.
    pub fn open(
        dir: &Path,
        venue: Venue,
        start_text: &str,
        ts_ns: i64,
    ) -> anyhow::Result<JournalSink> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let writer = Journal::open(dir, JournalConfig::default())
            .with_context(|| format!("opening journal {}", dir.display()))?;
        let mut sink = JournalSink {
            writer,
            venue,
            scratch: Vec::with_capacity(1 << 16),
            error: None,
            written: 0,
        };
        sink.control(ControlKind::Start, start_text, ts_ns);
        Ok(sink)
    }

    fn append(&mut self, t: u16, ts_ns: i64, payload_from_scratch: Option<&[u8]>) {
        if self.error.is_some() {
            return;
        }
        let payload = payload_from_scratch.unwrap_or(&self.scratch);
        match self.writer.append(t, 1, ts_ns, payload) {
            Ok(_) => self.written += 1,
            Err(e) => {
                self.error = Some(anyhow::anyhow!("journal append failed, writing halted: {e}"))
            }
        }
    }

    /// Records a raw frame (with the instrument a snapshot frame belongs to).
    pub fn raw_frame(&mut self, ts_ns: i64, frame: &[u8], context: Option<InstrumentId>) {
        codec::encode_raw_frame(self.venue, context, frame, &mut self.scratch);
        self.append(RecordType::RAW_FRAME, ts_ns, None);
    }

    /// Records a market event.
    pub fn market(&mut self, ev: &MarketEvent) {
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = codec::encode_market(ev, &mut buf);
        self.append(RecordType::MARKET_EVENT, ev.ts_local_ns(), Some(&buf[..n]));
    }

    /// Records an order intent.
    pub fn intent(&mut self, i: &crpbot_core::OrderIntent) {
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = codec::encode_intent(i, &mut buf);
        self.append(RecordType::ORDER_INTENT, i.ts_ns, Some(&buf[..n]));
    }

    /// Records a risk verdict.
    pub fn verdict(&mut self, v: &crpbot_core::RiskVerdict) {
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = codec::encode_verdict(v, &mut buf);
        self.append(RecordType::RISK_VERDICT, v.ts_ns, Some(&buf[..n]));
    }

    /// Records a fill.
    pub fn fill(&mut self, f: &crpbot_core::Fill) {
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = codec::encode_fill(f, &mut buf);
        self.append(RecordType::FILL, f.ts_ns, Some(&buf[..n]));
    }

    /// Records the signals an intent was decided on.
    pub fn signal(&mut self, s: &SignalRecord) {
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = codec::encode_signal(s, &mut buf);
        self.append(RecordType::SIGNAL, s.ts_ns, Some(&buf[..n]));
    }

    /// Records a position snapshot.
    pub fn position(&mut self, p: &PositionSnapshot) {
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = codec::encode_position(p, &mut buf);
        self.append(RecordType::POSITION, p.ts_ns, Some(&buf[..n]));
    }

    /// Records an equity snapshot.
    pub fn equity(&mut self, e: &EquitySnapshot) {
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = codec::encode_equity(e, &mut buf);
        self.append(RecordType::EQUITY, e.ts_ns, Some(&buf[..n]));
    }

    /// Records a control event.
    pub fn control(&mut self, kind: ControlKind, text: &str, ts_ns: i64) {
        codec::encode_control(kind, text, &mut self.scratch);
        self.append(RecordType::CONTROL, ts_ns, None);
    }

    /// True once an append or sync failed (nothing more is written; trading must halt).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The first error, as text.
    pub fn error_text(&self) -> Option<String> {
        self.error.as_ref().map(|e| format!("{e:#}"))
    }

    /// Sequence number of the last record appended (0: none).
    pub fn last_seq(&self) -> u64 {
        self.writer.last_seq()
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes everything appended so far durable (msync'd watermark). An error halts writing
    /// (and, through [`JournalSink::failed`], trading); it is never retried-and-ignored.
    pub fn sync(&mut self) -> bool {
        if self.error.is_some() {
            return false;
        }
        match self.writer.sync() {
            Ok(_) => true,
            Err(e) => {
                self.error = Some(anyhow::anyhow!("journal sync failed, writing halted: {e}"));
                false
            }
        }
    }

    /// Records the stop, seals the journal (durable) and reports the first error, if any.
    pub fn finish(mut self, ts_ns: i64) -> anyhow::Result<u64> {
        self.control(ControlKind::Stop, "", ts_ns);
        if let Some(e) = self.error.take() {
            bail!(e);
        }
        self.writer.sync().context("journal sync")?;
        self.writer.seal().context("journal seal")?;
        Ok(self.written)
    }
}
