//! A small deterministic random forest (Gini CART trees on bootstrap samples) used to
//! validate next-bar direction from indicator features.

use serde::Serialize;

use crate::swing::rng::Rng;

/// Forest settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForestParams {
    /// Trees.
    pub trees: usize,
    /// Maximum depth.
    pub max_depth: usize,
    /// Minimum samples in a leaf.
    pub min_leaf: usize,
    /// Candidate thresholds per feature per node (quantiles).
    pub thresholds: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self { trees: 40, max_depth: 5, min_leaf: 5, thresholds: 12, seed: 7 }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(f64),
    Split { feature: usize, threshold: f64, left: usize, right: usize },
}

/// A trained forest.
#[derive(Debug, Clone)]
pub struct Forest {
    trees: Vec<Vec<Node>>,
    importances: Vec<f64>,
}

fn gini(pos: f64, n: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p = pos / n;
    2.0 * p * (1.0 - p)
}

struct Builder<'a> {
    x: &'a [Vec<f64>],
    y: &'a [bool],
    p: ForestParams,
    mtry: usize,
    imp: Vec<f64>,
    n_total: f64,
}

impl Builder<'_> {
    fn build(
        &mut self,
        idx: Vec<usize>,
        depth: usize,
        nodes: &mut Vec<Node>,
        rng: &mut Rng,
    ) -> usize {
        let n = idx.len() as f64;
        let pos = idx.iter().filter(|i| self.y[**i]).count() as f64;
        let me = nodes.len();
        nodes.push(Node::Leaf(if n > 0.0 { pos / n } else { 0.5 }));
        if depth >= self.p.max_depth || idx.len() < 2 * self.p.min_leaf || pos == 0.0 || pos == n {
            return me;
        }
        let nf = self.x[0].len();
        // Choose mtry distinct features.
        let mut feats: Vec<usize> = (0..nf).collect();
        for i in 0..self.mtry.min(nf) {
            let j = i + rng.below(nf - i);
            feats.swap(i, j);
        }
        let parent = gini(pos, n);
        let mut best: Option<(f64, usize, f64)> = None;
        let mut pairs: Vec<(f64, bool)> = Vec::with_capacity(idx.len());
        for &f in &feats[..self.mtry.min(nf)] {
            pairs.clear();
            pairs.extend(idx.iter().map(|i| (self.x[*i][f], self.y[*i])));
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Prefix counts of positives, then evaluate quantile thresholds in one sweep.
            let m = pairs.len();
            let mut prefix = Vec::with_capacity(m + 1);
            prefix.push(0usize);
            for (_, lab) in &pairs {
                let last = prefix[prefix.len() - 1];
                prefix.push(last + usize::from(*lab));
            }
            for t in 1..=self.p.thresholds {
                let q = pairs[(t * (m - 1)) / (self.p.thresholds + 1)].0;
                // Rows with value <= q form the left child.
                let nl_i = pairs.partition_point(|(v, _)| *v <= q);
                let (nl, pl) = (nl_i as f64, prefix[nl_i] as f64);
                let nr = n - nl;
                if nl < self.p.min_leaf as f64 || nr < self.p.min_leaf as f64 {
                    continue;
                }
                let child = (nl * gini(pl, nl) + nr * gini(pos - pl, nr)) / n;
                let gain = parent - child;
                if gain > 1e-12 && best.is_none_or(|(g, _, _)| gain > g) {
                    best = Some((gain, f, q));
                }
            }
        }
        let Some((gain, feature, threshold)) = best else { return me };
        self.imp[feature] += gain * n / self.n_total;
        let (l, r): (Vec<usize>, Vec<usize>) =
            idx.iter().partition(|i| self.x[**i][feature] <= threshold);
        let left = self.build(l, depth + 1, nodes, rng);
        let right = self.build(r, depth + 1, nodes, rng);
        nodes[me] = Node::Split { feature, threshold, left, right };
        me
    }
}

impl Forest {
    /// Train on rows `x` (all of equal length, finite) with labels `y`. `None` when there are
    /// fewer than 10 rows or no features.
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::swing::theories::{Forest, ForestParams};
    /// let x: Vec<Vec<f64>> = (0..100).map(|i| vec![i as f64, (i * 7 % 13) as f64]).collect();
    /// let y: Vec<bool> = (0..100).map(|i| i >= 50).collect();
    /// let f = Forest::train(&x, &y, ForestParams::default()).unwrap();
    /// assert!(f.predict(&[80.0, 3.0]) > 0.9);
    /// assert!(f.importances()[0] > 0.9);
    /// ```
    #[must_use]
    pub fn train(x: &[Vec<f64>], y: &[bool], p: ForestParams) -> Option<Self> {
        if x.len() < 10 || x.len() != y.len() || x[0].is_empty() {
            return None;
        }
        let nf = x[0].len();
        let mut rng = Rng::new(p.seed);
        let mut b = Builder {
            x,
            y,
            p,
            mtry: ((nf as f64).sqrt().round() as usize).max(1),
            imp: vec![0.0; nf],
            n_total: x.len() as f64,
        };
        let mut trees = Vec::with_capacity(p.trees);
        for _ in 0..p.trees {
            let idx: Vec<usize> = (0..x.len()).map(|_| rng.below(x.len())).collect();
            let mut nodes = Vec::new();
            b.build(idx, 0, &mut nodes, &mut rng);
            trees.push(nodes);
        }
        let total: f64 = b.imp.iter().sum();
        let importances =
            if total > 0.0 { b.imp.iter().map(|v| v / total).collect() } else { vec![0.0; nf] };
        Some(Self { trees, importances })
    }

    /// Mean leaf probability of "up" over the trees.
    #[must_use]
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut s = 0.0;
        for t in &self.trees {
            let mut i = 0;
            loop {
                match &t[i] {
                    Node::Leaf(p) => {
                        s += p;
                        break;
                    }
                    Node::Split { feature, threshold, left, right } => {
                        i = if row.get(*feature).copied().unwrap_or(0.0) <= *threshold {
                            *left
                        } else {
                            *right
                        };
                    }
                }
            }
        }
        s / self.trees.len().max(1) as f64
    }

    /// Mean decrease in Gini impurity per feature, normalized to sum to 1.
    #[must_use]
    pub fn importances(&self) -> &[f64] {
        &self.importances
    }
}
