//! `make run`: the product on its embedded default, printing a working demo link.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use human_intervention::domain::token::LinkKeys;
use human_intervention::memory::LocalReceipts;
use human_intervention::web::local::{LocalConfig, LocalServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    human_intervention::telemetry::init();
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| format!("PORT={port:?} is not a port number"))?,
        Err(_) => 3000,
    };
    let keys = match std::env::var("LINK_SIGNING_KEYS") {
        Ok(spec) => Some(LinkKeys::parse(&spec).map_err(|e| format!("LINK_SIGNING_KEYS: {e}"))?),
        Err(_) => None,
    };
    let receipts = match std::env::var("RECEIPT_SIGNING_KEYS") {
        Ok(spec) => Some(LocalReceipts::parse(&spec).map_err(|e| format!("RECEIPT_SIGNING_KEYS: {e}"))?),
        Err(_) => None,
    };
    let config = LocalConfig {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        base_url: std::env::var("LINK_BASE_URL").ok(),
        keys,
        receipts,
        ..LocalConfig::default()
    };
    let server = LocalServer::start(config).await?;
    let link = server.create_demo().await?;
    let email = server.create_one_click_demo().await?;
    // A closed stdout (the reader went away) must not stop the server: write without panicking.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Human Intervention is running on http://{} (in memory; Ctrl-C stops it)", server.addr);
    let _ = writeln!(out, "Demo link: {link}");
    let _ = writeln!(out, "Reviewer's email (one click): {email}");
    let _ = writeln!(out, "Mailbox (every message it would have sent): {}", server.mailbox_url());
    let _ = writeln!(out, "Queued continuations: http://{}/continuations", server.addr);
    let _ = writeln!(out, "Receipt keys: http://{}/.well-known/receipt-keys.json", server.addr);
    let _ = out.flush();
    drop(out);
    tokio::select! {
        result = server.wait() => result?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
