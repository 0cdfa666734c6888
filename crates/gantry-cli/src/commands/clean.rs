//! `gantry clean`: removes the containers, networks and volumes that ended `gantry run`s in
//! this repository left (`--keep-containers`, a crash or a forced exit), or with `--all` every
//! one labelled `io.gantry.managed=true`, and says what it removed and what it kept.

use crate::cli::CleanArgs;
use crate::commands::Colors;
use crate::commands::run::RunError;
use crate::engine;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::render::plural;

pub fn run(args: &CleanArgs, _colors: Colors) -> Result<Outcome, CliError> {
    let selection = if args.all {
        gantry_docker::Selection::All
    } else {
        // The same root `gantry run` labels its jobs with.
        let cwd = std::env::current_dir().map_err(|source| CliError::Read {
            path: ".".into(),
            source,
        })?;
        let root = engine::repo_info(&cwd, false).map_or(cwd, |r| r.root);
        gantry_docker::Selection::Ended {
            scope: Some(engine::job_scope(&root)),
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let (found, report, kept) = runtime.block_on(async {
        let docker = engine::connect_docker().await.map_err(RunError::Engine)?;
        engine::clean(&docker, &selection)
            .await
            .map_err(RunError::Engine)
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
    if !kept.is_empty() {
        out.push_str(&format!(
            "kept {}, {}, {} of running gantry runs, other repositories, daemons and other machines (`gantry clean --all` removes them)\n",
            plural(kept.containers.len(), "container"),
            plural(kept.networks.len(), "network"),
            plural(kept.volumes.len(), "volume"),
        ));
    }
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
