//! `hyper-hello PORT`: HTTP/1.1 and h2c on 127.0.0.1:PORT, answering `Hello, wasm!` to everything.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18080);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|_req| async {
                let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"Hello, wasm!")));
                resp.headers_mut().insert(
                    "content-type",
                    hyper::header::HeaderValue::from_static("text/plain"),
                );
                Ok::<_, std::convert::Infallible>(resp)
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
