//! A wasi:cli 0.3 command: its `run` is async and stdout is a stream.

struct Command;

wasip3::cli::command::export!(Command);

impl wasip3::exports::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let args = wasip3::cli::environment::get_arguments();
        let (mut tx, rx) = wasip3::wit_stream::new();
        let message = format!("hello from wasi 0.3: {}\n", args[1..].join(" "));
        let write = async move { wasip3::cli::stdout::write_via_stream(rx).await };
        let produce = async move {
            let rest = tx.write_all(message.into_bytes()).await;
            assert!(rest.is_empty(), "stdout closed early");
        };
        let (written, ()) = join(write, produce).await;
        written.map_err(|_| ())?;
        if args.iter().any(|a| a == "--fail") {
            return Err(());
        }
        Ok(())
    }
}

/// Runs both futures to completion on this task.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (core::pin::pin!(a), core::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    core::future::poll_fn(|cx| {
        if ra.is_none()
            && let core::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let core::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            core::task::Poll::Ready(())
        } else {
            core::task::Poll::Pending
        }
    })
    .await;
    (ra.expect("polled to completion"), rb.expect("polled to completion"))
}
