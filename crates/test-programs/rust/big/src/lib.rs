//! `big`: several MB of data in the component, to measure start-up cost at size.

wit_bindgen::generate!({ path: "../../../../wit/demo", world: "big" });

static TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/table.bin"));

struct Component;

impl Guest for Component {
    fn checksum() -> u64 {
        TABLE.chunks_exact(8).step_by(4096).fold(0u64, |acc, c| {
            acc.wrapping_add(u64::from_le_bytes(c.try_into().unwrap()))
        })
    }
    fn size() -> u32 {
        TABLE.len() as u32
    }
}

export!(Component);
