//! [`MathWeights`]: the math synthesiser's per-theory weights and their update rule from
//! closed outcomes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Direction, THEORY_NAMES, TheoryValues};

/// Why a weight map was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// A name that is not in [`THEORY_NAMES`].
    #[error("unknown theory {0:?}")]
    Unknown(String),
    /// A theory of [`THEORY_NAMES`] has no weight.
    #[error("missing weight for {0:?}")]
    Missing(String),
    /// A weight is negative, zero or not finite.
    #[error("weight of {name:?} is {value} (must be finite and positive)")]
    Value {
        /// Theory.
        name: String,
        /// The bad value.
        value: f64,
    },
}

/// Per-theory weights of the math synthesiser, keyed by [`THEORY_NAMES`].
///
/// Invariants (kept by every constructor and by [`MathWeights::update`]): all eleven names
/// present, the weights sum to 1, and each lies in [[`MathWeights::MIN_WEIGHT`],
/// [`MathWeights::MAX_WEIGHT`]] — so no theory is ever silenced or allowed to dominate. It
/// serializes as a plain `{name: weight}` map; deserializing validates and re-normalizes.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::{Direction, MathWeights, TheoryValues};
/// let mut w = MathWeights::default();
/// assert!((w.get("kalman") - 1.0 / 11.0).abs() < 1e-12);
/// let t: TheoryValues = [("kalman".to_string(), 0.8), ("adf".to_string(), -0.5)].into();
/// w.update(&t, Direction::Long, 2.0); // price rose: kalman was right, adf wrong
/// assert!(w.get("kalman") > w.get("entropy") && w.get("adf") < w.get("entropy"));
/// let json = serde_json::to_string(&w).unwrap();
/// let back: MathWeights = serde_json::from_str(&json).unwrap();
/// assert!((back.get("kalman") - w.get("kalman")).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, f64>", into = "BTreeMap<String, f64>")]
pub struct MathWeights {
    weights: BTreeMap<String, f64>,
}

impl Default for MathWeights {
    /// Equal weights, 1/11 each.
    fn default() -> Self {
        let w = 1.0 / THEORY_NAMES.len() as f64;
        Self { weights: THEORY_NAMES.iter().map(|n| ((*n).to_string(), w)).collect() }
    }
}

impl TryFrom<BTreeMap<String, f64>> for MathWeights {
    type Error = WeightsError;

    fn try_from(map: BTreeMap<String, f64>) -> Result<Self, WeightsError> {
        Self::from_map(map)
    }
}

impl From<MathWeights> for BTreeMap<String, f64> {
    fn from(w: MathWeights) -> Self {
        w.weights
    }
}

impl MathWeights {
    /// Learning rate η of [`MathWeights::update`].
    pub const LEARNING_RATE: f64 = 0.1;
    /// Smallest weight any theory keeps.
    pub const MIN_WEIGHT: f64 = 0.02;
    /// Largest weight any theory may reach.
    pub const MAX_WEIGHT: f64 = 0.30;

    /// Weights from a `{name: weight}` map with exactly the eleven [`THEORY_NAMES`], each
    /// finite and positive; normalized to sum 1 and bounded as the type's invariants say.
    ///
    /// # Errors
    /// [`WeightsError`] for an unknown or missing name or a bad value.
    pub fn from_map(map: BTreeMap<String, f64>) -> Result<Self, WeightsError> {
        if let Some(k) = map.keys().find(|k| !THEORY_NAMES.contains(&k.as_str())) {
            return Err(WeightsError::Unknown(k.clone()));
        }
        if let Some(n) = THEORY_NAMES.iter().find(|n| !map.contains_key(**n)) {
            return Err(WeightsError::Missing((*n).to_string()));
        }
        if let Some((k, v)) = map.iter().find(|(_, v)| !(v.is_finite() && **v > 0.0)) {
            return Err(WeightsError::Value { name: k.clone(), value: *v });
        }
        let mut w = Self { weights: map };
        // Already normalized and bounded (e.g. our own serialization): keep the exact values,
        // so a round trip is the identity.
        let (lo, hi) = (Self::MIN_WEIGHT, Self::MAX_WEIGHT);
        let sum: f64 = w.weights.values().sum();
        let ok = (sum - 1.0).abs() <= 1e-12 && w.weights.values().all(|v| (lo..=hi).contains(v));
        if !ok {
            w.project();
        }
        Ok(w)
    }

    /// The weight of `name` (0 for a name outside [`THEORY_NAMES`]).
    #[must_use]
    pub fn get(&self, name: &str) -> f64 {
        self.weights.get(name).copied().unwrap_or(0.0)
    }

    /// All weights, keyed by theory name.
    #[must_use]
    pub fn as_map(&self) -> &BTreeMap<String, f64> {
        &self.weights
    }

    /// Learns from one closed signal: the exponentiated-gradient (Hedge) rule
    /// `wᵢ ← wᵢ · exp(η · sᵢ · m)` for each theory `i` with a non-zero signal `sᵢ` at the
    /// signal's bar, where `m = +1` when the price moved up over the trade and `−1` when it
    /// moved down (`m = sign(pnl_pct)` for LONG, `−sign(pnl_pct)` for SHORT). A theory whose
    /// sign matched the move (it was *correct*) gains weight in proportion to its conviction;
    /// a wrong one loses it. The weights are then re-normalized to sum 1 and bounded to
    /// [`MIN_WEIGHT`, `MAX_WEIGHT`] (mass redistributed over the unbounded ones).
    ///
    /// No-op for a HOLD, a zero or non-finite `pnl_pct`; unknown names and non-finite signals
    /// are skipped. Pure: same inputs, same weights.
    ///
    /// [`MIN_WEIGHT`]: MathWeights::MIN_WEIGHT
    /// [`MAX_WEIGHT`]: MathWeights::MAX_WEIGHT
    pub fn update(&mut self, theories: &TheoryValues, direction: Direction, pnl_pct: f64) {
        let dir = match direction {
            Direction::Long => 1.0,
            Direction::Short => -1.0,
            Direction::Hold => return,
        };
        if !pnl_pct.is_finite() || pnl_pct == 0.0 {
            return;
        }
        let m = dir * pnl_pct.signum();
        let mut changed = false;
        for (name, s) in theories {
            if let Some(w) = self.weights.get_mut(name)
                && s.is_finite()
                && *s != 0.0
            {
                *w *= (Self::LEARNING_RATE * s.clamp(-1.0, 1.0) * m).exp();
                changed = true;
            }
        }
        if changed {
            self.project();
        }
    }

    /// Normalizes to sum 1 with every weight in [MIN_WEIGHT, MAX_WEIGHT]. Weights the
    /// normalization would put above MAX_WEIGHT are pinned there first (which only raises
    /// the others' share), then those below MIN_WEIGHT are pinned there (which only lowers
    /// the others' share, so no new weight crosses MAX_WEIGHT); the free weights carry the
    /// remaining mass. At most one pass per theory.
    fn project(&mut self) {
        let (lo, hi) = (Self::MIN_WEIGHT, Self::MAX_WEIGHT);
        let mut pinned: BTreeMap<String, f64> = BTreeMap::new();
        for _ in 0..=self.weights.len() {
            let pinned_sum: f64 = pinned.values().sum();
            let free: Vec<(&String, f64)> = self
                .weights
                .iter()
                .filter(|(k, _)| !pinned.contains_key(*k))
                .map(|(k, v)| (k, *v))
                .collect();
            let free_sum: f64 = free.iter().map(|(_, v)| v).sum();
            if free.is_empty() || free_sum <= 0.0 {
                break;
            }
            let scale = (1.0 - pinned_sum) / free_sum;
            let high: Vec<String> =
                free.iter().filter(|(_, v)| v * scale > hi).map(|(k, _)| (*k).clone()).collect();
            if !high.is_empty() {
                pinned.extend(high.into_iter().map(|k| (k, hi)));
                continue;
            }
            let low: Vec<String> =
                free.iter().filter(|(_, v)| v * scale < lo).map(|(k, _)| (*k).clone()).collect();
            if !low.is_empty() {
                pinned.extend(low.into_iter().map(|k| (k, lo)));
                continue;
            }
            for (k, v) in &mut self.weights {
                *v = pinned.get(k).copied().unwrap_or(*v * scale);
            }
            return;
        }
        // Every weight pinned (not reachable with 11 theories and these bounds): normalize
        // the pinned values.
        let total: f64 = pinned.values().sum();
        for (k, v) in &mut self.weights {
            *v = pinned.get(k).copied().unwrap_or(lo) / total;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn t(pairs: &[(&str, f64)]) -> TheoryValues {
        pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
    }

    #[test]
    fn update_matches_the_hand_computed_rule() {
        let mut w = MathWeights::default();
        // SHORT that lost: the price went up, m = +1.
        w.update(&t(&[("kalman", 0.5), ("adf", -1.0)]), Direction::Short, -1.0);
        let (ek, ea) = ((0.1f64 * 0.5).exp(), (-0.1f64).exp());
        let total = ek + ea + 9.0;
        assert!((w.get("kalman") - ek / total).abs() < 1e-12);
        assert!((w.get("adf") - ea / total).abs() < 1e-12);
        assert!((w.get("entropy") - 1.0 / total).abs() < 1e-12);
    }

    #[test]
    fn no_op_cases() {
        let mut w = MathWeights::default();
        let th = t(&[("kalman", 0.9)]);
        w.update(&th, Direction::Hold, 5.0);
        w.update(&th, Direction::Long, 0.0);
        w.update(&th, Direction::Long, f64::NAN);
        w.update(&t(&[("nope", 1.0), ("kalman", f64::NAN)]), Direction::Long, 1.0);
        assert_eq!(w, MathWeights::default());
    }

    #[test]
    fn bounds_hold_after_many_one_sided_updates() {
        let mut w = MathWeights::default();
        let th = t(&[("kalman", 1.0), ("markov", -1.0)]);
        for _ in 0..1000 {
            w.update(&th, Direction::Long, 1.0);
        }
        assert!((w.get("kalman") - MathWeights::MAX_WEIGHT).abs() < 1e-12);
        assert!((w.get("markov") - MathWeights::MIN_WEIGHT).abs() < 1e-12);
        assert!((w.as_map().values().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn from_map_validates() {
        let mut m: BTreeMap<String, f64> = MathWeights::default().into();
        m.insert("kalman".into(), 5.0);
        let w = MathWeights::from_map(m.clone()).unwrap();
        assert!((w.get("kalman") - MathWeights::MAX_WEIGHT).abs() < 1e-12);
        m.insert("x".into(), 1.0);
        assert_eq!(MathWeights::from_map(m.clone()), Err(WeightsError::Unknown("x".into())));
        m.remove("x");
        m.remove("adf");
        assert_eq!(MathWeights::from_map(m.clone()), Err(WeightsError::Missing("adf".into())));
        m.insert("adf".into(), -1.0);
        assert!(matches!(MathWeights::from_map(m), Err(WeightsError::Value { .. })));
        assert!(serde_json::from_str::<MathWeights>(r#"{"kalman":1.0}"#).is_err());
    }

    proptest! {
        #[test]
        fn invariants_hold_for_any_update_sequence(
            steps in proptest::collection::vec(
                (proptest::collection::vec(-1.5f64..1.5, 11), 0u8..3, -20.0f64..20.0), 0..60)
        ) {
            let mut w = MathWeights::default();
            for (sig, d, pnl) in steps {
                let th: TheoryValues =
                    THEORY_NAMES.iter().zip(sig).map(|(n, s)| ((*n).to_string(), s)).collect();
                let dir = [Direction::Long, Direction::Short, Direction::Hold][d as usize];
                w.update(&th, dir, pnl);
                let sum: f64 = w.as_map().values().sum();
                prop_assert!((sum - 1.0).abs() < 1e-9);
                for v in w.as_map().values() {
                    prop_assert!(*v >= MathWeights::MIN_WEIGHT - 1e-12);
                    prop_assert!(*v <= MathWeights::MAX_WEIGHT + 1e-12);
                }
                prop_assert_eq!(w.as_map().len(), 11);
            }
        }
    }
}
