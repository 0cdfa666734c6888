//! Serves a registry until interrupted; used by `benches/registry.sh`.
//!
//! `cargo run -p gantry-packages --example serve -- ADDR DATA_DIR TOKEN_FILE`: writes an
//! all-scopes token to TOKEN_FILE and makes new packages public.

use gantry_packages::{Config, Scope, Visibility, serve};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, data, token_file] = args.as_slice() else {
        return Err("usage: serve ADDR DATA_DIR TOKEN_FILE".into());
    };
    let mut config = Config::new(data);
    config.default_visibility = Visibility::Public;
    let handle = serve(addr.parse()?, config).await?;
    let scopes = [
        Scope::ReadPackages,
        Scope::WritePackages,
        Scope::DeletePackages,
    ];
    let token = handle
        .registry()
        .create_token("bench", None, &scopes, None)
        .await?;
    std::fs::write(token_file, token)?;
    println!("listening on {}", handle.addr());
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await;
    Ok(())
}
