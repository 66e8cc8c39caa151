//! WASI 0.3 async exports: an awaited call, a wait on the 0.3 clock, a stream, a future.

wit_bindgen::generate!({
    path: "../../../../wit/async-demo",
    world: "wasmhub:asyncdemo/provider",
});

use exports::wasmhub::asyncdemo::api::Guest;
use wit_bindgen::{FutureReader, StreamReader};

struct Provider;

async fn sleep_ms(ms: u32) {
    wasip3::clocks::monotonic_clock::wait_for(u64::from(ms) * 1_000_000).await;
}

impl Guest for Provider {
    async fn greet(name: String) -> String {
        format!("Hello, {name}!")
    }

    async fn slow(ms: u32, label: String) -> String {
        sleep_ms(ms).await;
        format!("{label} after {ms} ms")
    }

    async fn count(n: u32) -> StreamReader<u8> {
        let (mut tx, rx) = wit_stream::new::<u8>();
        wit_bindgen::spawn_local(async move {
            for i in 0..n {
                if !tx.write_all(vec![b'a' + (i % 26) as u8]).await.is_empty() {
                    break; // the reader is gone
                }
                sleep_ms(20).await;
            }
        });
        rx
    }

    async fn later(ms: u32, text: String) -> FutureReader<String> {
        let (tx, rx) = wit_future::new::<String>(String::new);
        wit_bindgen::spawn_local(async move {
            sleep_ms(ms).await;
            let _ = tx.write(format!("later: {text}")).await;
        });
        rx
    }

    async fn spin() -> u64 {
        let mut x: u64 = 0;
        loop {
            x = core::hint::black_box(x.wrapping_add(1));
            if x == u64::MAX {
                return x;
            }
        }
    }
}

export!(Provider);
