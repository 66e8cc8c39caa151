//! `hog`: uses as much CPU, stack or memory as asked, or without end, to test budgets.

wit_bindgen::generate!({ path: "wit", world: "hog" });

struct Hog;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

/// One wasm frame per level (scalars only, so nothing lands on the shadow stack in memory).
#[inline(never)]
fn dive(depth: u32, acc: u64) -> u64 {
    if depth == 0 {
        return acc;
    }
    mix(dive(depth - 1, acc ^ u64::from(depth))) | 1
}

impl Guest for Hog {
    fn spin(rounds: u64) -> u64 {
        let mut x = 1u64;
        for i in 0..rounds {
            x = mix(x ^ i);
        }
        x
    }

    fn spin_forever() -> u64 {
        let mut x = 1u64;
        loop {
            x = std::hint::black_box(mix(x));
        }
    }

    fn recurse(depth: u32) -> u32 {
        let reached = dive(depth, 7);
        if std::hint::black_box(reached) == 0 {
            0
        } else {
            depth
        }
    }

    fn hoard(mib: u32) -> u32 {
        let mut held: Vec<Vec<u8>> = Vec::new();
        for i in 0..mib {
            held.push(vec![i as u8 | 1; 1 << 20]);
        }
        std::hint::black_box(&held).len() as u32
    }

    fn grow_once(pages: u32) -> i64 {
        let old = core::arch::wasm32::memory_grow(0, pages as usize);
        if old == usize::MAX { -1 } else { old as i64 }
    }

    fn text(len: u32) -> String {
        "x".repeat(len as usize)
    }

    fn measure(s: String) -> u32 {
        s.len() as u32
    }

    fn churn(mib: u32) -> u64 {
        let mut data: Vec<u64> = (0..(mib as u64) << 17).map(mix).collect();
        data.sort_unstable();
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for v in data {
            h = (h ^ v).wrapping_mul(0x100_0000_01b3);
        }
        h
    }
}

export!(Hog);
