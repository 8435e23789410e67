//! Cutting a batch into shards for several machines: `--shard K/N` takes every N-th
//! item of the batch's fixed order, starting at the K-th, so the N shards together run
//! exactly the whole batch, each item once, and long and short scenarios spread evenly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of `n` shards, `k` counted from 1 (`--shard 2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, 1..=n.
    pub k: usize,
    /// How many shards in all.
    pub n: usize,
}

impl Shard {
    /// The whole batch as one shard.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// Whether the item at `index` (0-based, in the batch's fixed order) is in this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.n == self.k - 1
    }

    /// The items of this shard, in their order.
    pub fn take<T>(&self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.contains(*i))
            .map(|(_, t)| t)
            .collect()
    }

    /// The seeds of this shard out of `start..start + count` (for `explore`): every
    /// n-th seed from the k-th.
    pub fn seeds(&self, start: u64, count: u64) -> impl Iterator<Item = u64> + '_ {
        (0..count)
            .filter(move |i| self.contains(*i as usize))
            .map(move |i| start + i)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Why a `--shard` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form `K/N`.
    #[error("--shard {0:?}: expected K/N, for example 2/3")]
    Form(String),
    /// K or N out of range.
    #[error("--shard {0:?}: need 1 ≤ K ≤ N")]
    Range(String),
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| ShardError::Form(s.into()))?;
        let parse = |x: &str| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| ShardError::Form(s.into()))
        };
        let (k, n) = (parse(k)?, parse(n)?);
        if k == 0 || n == 0 || k > n {
            return Err(ShardError::Range(s.into()));
        }
        Ok(Shard { k, n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { k: 2, n: 3 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard::WHOLE));
        for bad in ["0/3", "4/3", "1/0"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Range(_))),
                "{bad}"
            );
        }
        for bad in ["", "3", "a/b", "1/2/3", "-1/2"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Form(_))),
                "{bad}"
            );
        }
        assert_eq!(Shard { k: 2, n: 5 }.to_string(), "2/5");
    }

    #[test]
    fn shards_cover_the_whole_exactly_once() {
        for total in 0..40usize {
            for n in 1..7usize {
                let mut seen: Vec<usize> = (1..=n)
                    .flat_map(|k| Shard { k, n }.take(0..total))
                    .collect();
                seen.sort();
                assert_eq!(
                    seen,
                    (0..total).collect::<Vec<_>>(),
                    "{total} items, {n} shards"
                );
                // Balanced: shard sizes differ by at most one.
                let sizes: Vec<usize> = (1..=n)
                    .map(|k| Shard { k, n }.take(0..total).len())
                    .collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn seed_ranges_split_exactly() {
        let mut all: Vec<u64> = (1..=3)
            .flat_map(|k| Shard { k, n: 3 }.seeds(100, 10).collect::<Vec<_>>())
            .collect();
        all.sort();
        assert_eq!(all, (100..110).collect::<Vec<_>>());
    }
}
