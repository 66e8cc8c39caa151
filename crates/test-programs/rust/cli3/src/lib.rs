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
        let (written, ()) = futures::join!(write, produce);
        written.map_err(|_| ())?;
        if args.iter().any(|a| a == "--fail") {
            return Err(());
        }
        Ok(())
    }
}
