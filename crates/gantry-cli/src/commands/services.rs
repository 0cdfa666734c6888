//! `gantry artifacts ...` and `gantry cache ...`: what runs stored in the runner services
//! (`gantry-services`), read and changed in the data directory directly (no server needed).

use std::path::Path;

use futures::StreamExt;
use gantry_services::{ArtifactInfo, CacheInfo, Services};
use tokio::io::AsyncWriteExt;

use crate::cli::{ArtifactsArgs, ArtifactsCommand, CacheArgs, CacheCommand};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::services::{self, ServicesError};

#[derive(Debug, thiserror::Error)]
pub enum ServicesCommandError {
    #[error("run {run} has no artifact{}", name.as_ref().map(|n| format!(" named `{n}`")).unwrap_or_else(|| "s".into()))]
    NoArtifacts { run: String, name: Option<String> },
    #[error("no cache entry with id {0} (see `gantry cache list`)")]
    NoCache(i64),
    #[error("give entry ids or --key to delete (see `gantry cache list`)")]
    NothingToDelete,
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServicesCommandError::Runtime(e).into())
}

fn open(data_dir: Option<&Path>) -> Result<Services, CliError> {
    Ok(services::open(data_dir)?)
}

fn failed(e: gantry_services::ServiceError) -> CliError {
    ServicesError::from(e).into()
}

pub fn artifacts(args: &ArtifactsArgs) -> Result<Outcome, CliError> {
    let services = open(args.data_dir.as_deref())?;
    runtime()?.block_on(async {
        match &args.command {
            ArtifactsCommand::List { run } => {
                let all = services.artifacts(run.as_deref()).await.map_err(failed)?;
                output::print(&artifact_table(&all))?;
            }
            ArtifactsCommand::Download { run, name, dir } => {
                for a in selected(&services, run, name.as_deref()).await? {
                    let path = dir.join(format!("{}.zip", a.name));
                    save(&services, &a, &path).await?;
                    output::print(&format!("{}\n", path.display()))?;
                }
            }
            ArtifactsCommand::Rm { run, name } => {
                for a in selected(&services, run, name.as_deref()).await? {
                    services.delete_artifact(a.id).await.map_err(failed)?;
                    output::print(&format!(
                        "deleted artifact `{}` of run {}\n",
                        a.name, a.run_id
                    ))?;
                }
            }
        }
        Ok(Outcome::Clean)
    })
}

async fn selected(
    services: &Services,
    run: &str,
    name: Option<&str>,
) -> Result<Vec<ArtifactInfo>, CliError> {
    let found: Vec<ArtifactInfo> = services
        .artifacts(Some(run))
        .await
        .map_err(failed)?
        .into_iter()
        .filter(|a| name.is_none_or(|n| a.name == n))
        .collect();
    if found.is_empty() {
        return Err(ServicesCommandError::NoArtifacts {
            run: run.to_owned(),
            name: name.map(str::to_owned),
        }
        .into());
    }
    Ok(found)
}

/// Streams an artifact's zip to `path` through a temp file, so a failed copy leaves nothing.
async fn save(services: &Services, a: &ArtifactInfo, path: &Path) -> Result<(), CliError> {
    let write_err = |source| ServicesCommandError::Write {
        path: path.to_owned(),
        source,
    };
    let (_, mut stream) = services.artifact_content(a.id).await.map_err(failed)?;
    let tmp = path.with_extension("zip.partial");
    let mut file = tokio::fs::File::create(&tmp).await.map_err(write_err)?;
    let copied = async {
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?).await?;
        }
        file.sync_all().await
    }
    .await;
    if let Err(e) = copied.and(tokio::fs::rename(&tmp, path).await) {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(write_err(e).into());
    }
    Ok(())
}

fn size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / MB)
    } else if bytes >= 1024 {
        format!("{:.1} kB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn artifact_table(all: &[ArtifactInfo]) -> String {
    if all.is_empty() {
        return "no artifacts\n".into();
    }
    let rows = all
        .iter()
        .map(|a| {
            vec![
                a.run_id.clone(),
                a.id.to_string(),
                a.name.clone(),
                size(a.size),
                date(a.expires_at),
            ]
        })
        .collect();
    table(&["RUN", "ID", "NAME", "SIZE", "EXPIRES"], rows)
}

fn cache_table(all: &[CacheInfo]) -> String {
    if all.is_empty() {
        return "no cache entries\n".into();
    }
    let rows = all
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.repository.clone(),
                c.scope.clone(),
                c.key.clone(),
                size(c.size),
                date(c.last_used / 1000),
            ]
        })
        .collect();
    table(
        &["ID", "REPOSITORY", "REF", "KEY", "SIZE", "LAST USED"],
        rows,
    )
}

pub fn cache(args: &CacheArgs) -> Result<Outcome, CliError> {
    let services = open(args.data_dir.as_deref())?;
    runtime()?.block_on(async {
        match &args.command {
            CacheCommand::List { repo } => {
                output::print(&cache_table(
                    &services.caches(repo.as_deref()).await.map_err(failed)?,
                ))?;
            }
            CacheCommand::Rm { ids, key, repo } => {
                let mut victims = ids.clone();
                if let Some(prefix) = key {
                    let all = services.caches(repo.as_deref()).await.map_err(failed)?;
                    victims.extend(
                        all.iter()
                            .filter(|c| c.key.starts_with(prefix.as_str()))
                            .map(|c| c.id),
                    );
                } else if ids.is_empty() {
                    return Err(ServicesCommandError::NothingToDelete.into());
                }
                for id in victims {
                    if !services.delete_cache(id).await.map_err(failed)? {
                        return Err(ServicesCommandError::NoCache(id).into());
                    }
                    output::print(&format!("deleted cache entry {id}\n"))?;
                }
            }
        }
        Ok(Outcome::Clean)
    })
}
