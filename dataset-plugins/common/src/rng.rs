//! The 32-bit Mersenne Twister (`std::mt19937`) and libstdc++'s bounded draw on top of it.

const N: usize = 624;
const M: usize = 397;

/// `std::mt19937`: the 32-bit Mersenne Twister with the C++ standard's parameters and seeding.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    next: usize,
}

impl Mt19937 {
    /// The generator `std::mt19937(seed)` builds.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Self { state, next: N }
    }

    /// The next output, as `rng()` returns it.
    pub fn next_u32(&mut self) -> u32 {
        if self.next >= N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut v = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.next = 0;
    }

    /// A draw from `0..range` as `std::uniform_int_distribution<size_t>(0, range - 1)` makes it
    /// with libstdc++ from GCC 11 on: Lemire's multiply-and-reject for a 32-bit engine
    /// (`docs/scoring-conventions.md#hellaswag-selection`). Other standard libraries draw differently.
    /// `range` must not be 0.
    pub fn below(&mut self, range: u32) -> u32 {
        debug_assert!(range > 0);
        let range64 = u64::from(range);
        let mut product = u64::from(self.next_u32()) * range64;
        let mut low = product as u32;
        if low < range {
            let threshold = range.wrapping_neg() % range;
            while low < threshold {
                product = u64::from(self.next_u32()) * range64;
                low = product as u32;
            }
        }
        (product >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outputs_match_the_standard() {
        // docs/scoring-conventions.md#multiple-choice-selection: mt19937(1) starts 1791095845, 4282876139,
        // 3093770124.
        let mut rng = Mt19937::new(1);
        assert_eq!(
            [rng.next_u32(), rng.next_u32(), rng.next_u32()],
            [1_791_095_845, 4_282_876_139, 3_093_770_124]
        );
        // The C++ standard requires the 10000th output of a default-constructed mt19937
        // (seed 5489) to be 4123659995.
        let mut rng = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = rng.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }
}
