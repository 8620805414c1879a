//! A TCP connection on loopback that opens.

use tokio::net::TcpStream;

pub async fn passes(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}
