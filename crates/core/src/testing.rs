//! Helpers shared by the core's unit tests.

/// Deterministic xorshift inputs of up to 47 bytes, drawn mostly from a grammar's own
/// characters (one byte in eight is any byte), for "never panics" table tests.
pub fn pseudo_random_inputs(alphabet: &[u8], count: usize) -> Vec<Vec<u8>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let len = (next() % 48) as usize;
            (0..len)
                .map(|_| {
                    let r = next();
                    if r % 8 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect()
        })
        .collect()
}
