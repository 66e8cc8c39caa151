//! Times a CPU-bound guest call under no metering, epoch deadlines, fuel, and both (rounds
//! interleaved), then stops an endless loop under a 5 ms deadline many times.
//!
//! Usage: `budget-overhead HOG.wasm [ROUNDS] [DEADLINE_CALLS]`.

use std::time::{Duration, Instant};

use anyhow::Result;
use wasmhub_app::{Budget, GrantSite, Grants};
use wasmhub_core::{EngineKind, Metering, new_engine};
use wasmtime::Engine;
use wasmtime::component::Component;

/// One way to run the guest: what the engine meters and what the budget asks.
struct Mode {
    name: &'static str,
    engine: Engine,
    component: Component,
    budget: Budget,
    times: Vec<Duration>,
}

fn mode(name: &'static str, wasm: &[u8], fuel: bool, deadline: bool) -> Result<Mode> {
    let budget = Budget {
        fuel: fuel.then_some(u64::MAX / 2),
        deadline: deadline.then_some(Duration::from_secs(600)),
        ..Budget::default()
    };
    let engine = new_engine(EngineKind::OneShot(Metering::for_budgets([&budget])))?;
    let component = Component::new(&engine, wasm)?;
    Ok(Mode {
        name,
        engine,
        component,
        budget,
        times: Vec::new(),
    })
}

async fn call(m: &Mode, budget: &Budget, call: &str) -> Result<wasmhub_host::Invocation> {
    let grants = Grants::none(GrantSite::Flags);
    wasmhub_host::invoke(
        &m.engine,
        &m.component,
        &grants,
        budget,
        call,
        None,
        &mut |_| {},
    )
    .await
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `work` under every mode in interleaved, rotated rounds; returns the table rows.
fn time_modes(
    rt: &tokio::runtime::Runtime,
    modes: &mut [Mode],
    work: &str,
    rounds: usize,
) -> Result<String> {
    rt.block_on(async {
        for m in modes.iter_mut() {
            m.times.clear();
            call(m, &m.budget, work).await?;
        }
        for round in 0..rounds {
            // Rotate the order too, so no mode always runs first.
            for k in 0..modes.len() {
                let i = (round + k) % modes.len();
                let m = &mut modes[i];
                let t = Instant::now();
                call(m, &m.budget, work).await?;
                m.times.push(t.elapsed());
            }
        }
        anyhow::Ok(())
    })?;
    let base = median(&mut modes[0].times.clone()).as_secs_f64();
    let mut out = String::new();
    for m in modes.iter_mut() {
        let t = median(&mut m.times).as_secs_f64();
        let (lo, hi) = (m.times[0], m.times[m.times.len() - 1]);
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} - {:.2} | {:+.1} % |\n",
            m.name,
            t * 1e3,
            lo.as_secs_f64() * 1e3,
            hi.as_secs_f64() * 1e3,
            (t / base - 1.0) * 100.0
        ));
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let wasm = std::fs::read(args.get(1).expect("usage: budget-overhead HOG.wasm"))?;
    let rounds: usize = args.get(2).map_or(Ok(21), |a| a.parse())?;
    let deadline_calls: usize = args.get(3).map_or(Ok(1000), |a| a.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut modes = vec![
        mode("no metering", &wasm, false, false)?,
        mode("no metering again", &wasm, false, false)?,
        mode("epoch deadline", &wasm, false, true)?,
        mode("fuel", &wasm, true, false)?,
        mode("fuel + deadline", &wasm, true, true)?,
    ];
    for (work, what) in [
        ("spin(3000000)", "3M rounds of a 64-bit mix: a tight loop"),
        (
            "churn(2)",
            "generate, sort and hash 2 MiB: calls, branches, memory",
        ),
    ] {
        let table = time_modes(&rt, &mut modes, work, rounds)?;
        println!("\n{work} ({what}), median of {rounds} interleaved rounds");
        println!("| mode | median ms | min - max ms | overhead |");
        println!("|---|---|---|---|");
        print!("{table}");
    }

    // Fuel per unit of work: the difference between two sizes cancels fixed costs.
    let by_name = |n: &str| modes.iter().position(|m| m.name == n).expect("mode");
    let fuel = &modes[by_name("fuel")];
    let fuel_of = |c: &str| -> Result<u64> {
        let done = rt.block_on(call(fuel, &fuel.budget, c))?;
        Ok(done.usage.fuel.unwrap_or(0))
    };
    let per_round = (fuel_of("spin(20000)")? - fuel_of("spin(10000)")?) as f64 / 10000.0;
    let per_elem = (fuel_of("churn(2)")? - fuel_of("churn(1)")?) as f64 / 131072.0;
    println!("\nfuel per unit of work");
    println!("| work | fuel |");
    println!("|---|---|");
    println!("| one `spin` round (xor, two shifts, a multiply, loop control) | {per_round:.2} |");
    println!("| one `churn` element (generate, sort, hash a u64) | {per_elem:.1} |");

    // An endless loop under a 5 ms deadline: how long until the call returns.
    let limit = Duration::from_millis(5);
    let budget = Budget {
        deadline: Some(limit),
        ..Budget::default()
    };
    let epoch = &modes[by_name("epoch deadline")];
    let mut stops = Vec::with_capacity(deadline_calls);
    rt.block_on(async {
        for _ in 0..deadline_calls {
            let t = Instant::now();
            let r = call(epoch, &budget, "spin-forever()").await;
            stops.push(t.elapsed());
            anyhow::ensure!(r.is_err(), "the endless loop returned");
        }
        anyhow::Ok(())
    })?;
    stops.sort();
    let pct = |p: f64| stops[((stops.len() as f64 * p) as usize).min(stops.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\nendless loop under a 5 ms deadline, {deadline_calls} calls (instantiation included)"
    );
    println!("| p50 ms | p99 ms | max ms | target p99 |");
    println!("|---|---|---|---|");
    println!(
        "| {:.2} | {:.2} | {:.2} | <= 6 ms: {} |",
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(*stops.last().unwrap()),
        if ms(pct(0.99)) <= 6.0 {
            "met"
        } else {
            "missed"
        }
    );
    Ok(())
}
