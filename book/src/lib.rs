//! Temporary BTreeMap shim with the crpbot-book API; replaced by the real book on merge.
#![forbid(unsafe_code)]
use crpbot_core::{LevelUpdate, Px, Qty, Side};
use std::collections::BTreeMap;
#[derive(Clone, Copy, Debug, Default)]
pub struct BookConfig {
    pub window_ticks: u32,
    pub far_capacity: u32,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub px: Px,
    pub qty: Qty,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyError {
    NegativeQty,
    InvalidPrice,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossState {
    Empty,
    OneSided,
    Normal,
    Locked,
    Crossed,
}
#[derive(Debug, Default)]
pub struct Book {
    bids: BTreeMap<Px, Qty>,
    asks: BTreeMap<Px, Qty>,
}
impl Book {
    pub fn new(_c: BookConfig) -> Book {
        Book::default()
    }
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }
    pub fn set(&mut self, side: Side, px: Px, qty: Qty) -> Result<(), ApplyError> {
        if qty.0 < 0 {
            return Err(ApplyError::NegativeQty);
        }
        if px.0 <= 0 {
            return Err(ApplyError::InvalidPrice);
        }
        let m = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if qty.0 == 0 {
            m.remove(&px);
        } else {
            m.insert(px, qty);
        }
        Ok(())
    }
    pub fn apply(&mut self, u: &LevelUpdate) -> Result<(), ApplyError> {
        self.set(u.side, u.px, u.qty)
    }
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.iter().next_back().map(|(p, q)| Level { px: *p, qty: *q })
    }
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.iter().next().map(|(p, q)| Level { px: *p, qty: *q })
    }
    pub fn level_count(&self, side: Side) -> usize {
        match side {
            Side::Buy => self.bids.len(),
            Side::Sell => self.asks.len(),
        }
    }
    pub fn cross_state(&self) -> CrossState {
        match (self.best_bid(), self.best_ask()) {
            (None, None) => CrossState::Empty,
            (Some(b), Some(a)) => {
                if b.px < a.px {
                    CrossState::Normal
                } else if b.px == a.px {
                    CrossState::Locked
                } else {
                    CrossState::Crossed
                }
            }
            _ => CrossState::OneSided,
        }
    }
}
