//! A small seeded random number generator for schedules.
//!
//! SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
//! OOPSLA 2014), written out here rather than taken from `rand` because a seed must give
//! the same schedule in every build forever: `rand`'s `StdRng` may change its algorithm
//! between releases, and a schedule number in a bug report must keep meaning the same
//! faults.

/// SplitMix64: 64 bits of state, one multiply-xorshift finaliser per output.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The generator for schedule `index` of `seed`: each schedule has its own stream, so
    /// schedule 17 is the same whether or not schedules 1 to 16 were generated.
    pub fn for_schedule(seed: u64, index: u64) -> Rng {
        let mut mix = Rng {
            state: seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F),
        };
        Rng {
            state: mix.next_u64(),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo + 1;
        // Rejection sampling keeps the distribution exactly uniform.
        let zone = u64::MAX - (u64::MAX % span);
        loop {
            let v = self.next_u64();
            if v < zone {
                return lo + v % span;
            }
        }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.range(0, 99) < percent
    }

    /// One element of a non-empty slice (`None` for an empty one).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let i = self.range(0, items.len() as u64 - 1);
        items.get(i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs of SplitMix64 seeded with 0 (state before the first step),
        // as published with the algorithm.
        let mut r = Rng { state: 0 };
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn streams_are_stable_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::for_schedule(7, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::for_schedule(7, 3).next_u64(),
            Rng::for_schedule(7, 4).next_u64()
        );
        assert_ne!(
            Rng::for_schedule(7, 3).next_u64(),
            Rng::for_schedule(8, 3).next_u64()
        );
    }

    #[test]
    fn range_stays_in_bounds() {
        let mut r = Rng::for_schedule(1, 1);
        for _ in 0..1000 {
            let v = r.range(5, 9);
            assert!((5..=9).contains(&v));
        }
        assert_eq!(r.range(3, 3), 3);
        assert_eq!(r.range(4, 2), 4);
    }
}
