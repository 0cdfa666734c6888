//! `gantry clean`: removes every container, network and volume labelled
//! `io.gantry.managed=true` (left by `--keep-containers`, a crash or a forced exit) and says
//! what it removed.

use crate::cli::CleanArgs;
use crate::commands::Colors;
use crate::commands::run::RunError;
use crate::engine;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::render::plural;

pub fn run(_args: &CleanArgs, _colors: Colors) -> Result<Outcome, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let (found, report) = runtime.block_on(async {
        let docker = engine::connect_docker().await.map_err(RunError::Engine)?;
        engine::clean_all(&docker).await.map_err(RunError::Engine)
    })?;
    let mut out = String::new();
    for (kind, ids) in [
        ("container", &found.containers),
        ("network", &found.networks),
        ("volume", &found.volumes),
    ] {
        for id in ids {
            out.push_str(&format!("removed {kind} {}\n", short(id)));
        }
    }
    out.push_str(&format!(
        "{}, {}, {} removed\n",
        plural(report.containers, "container"),
        plural(report.networks, "network"),
        plural(report.volumes, "volume"),
    ));
    output::print(&out)?;
    Ok(Outcome::Clean)
}

/// Docker's short form of an id (volume names are shown whole).
fn short(id: &str) -> &str {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}
