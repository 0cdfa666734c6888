//! `gantry packages ...`: the package registry in gantry's data directory. `serve` runs it
//! (what `gantry run` starts for each run, standalone); `list`, `show`, `delete`, `gc` and
//! `token create` work on the data directory directly, so they need no server.

use std::path::Path;

use gantry_packages::{PackageDetail, PackageKind, Registry, Scope, Visibility};

use crate::cli::{PackagesArgs, PackagesCommand, ServeArgs, TokenCommand};
use crate::commands::Colors;
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::registry::{self, RegistryError};

/// What `packages serve` calls the administrator token it creates (what `npm whoami` says).
const ADMIN_SUBJECT: &str = "gantry-admin";

pub fn run(args: &PackagesArgs, _colors: Colors) -> Result<Outcome, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RegistryError::Runtime)?;
    let data_dir = args.data_dir.as_deref();
    runtime.block_on(async {
        match &args.command {
            PackagesCommand::Serve(serve) => serve_until_interrupted(data_dir, serve).await,
            PackagesCommand::List => list(data_dir).await,
            PackagesCommand::Show { name } => show(data_dir, name).await,
            PackagesCommand::Delete { spec } => delete(data_dir, spec).await,
            PackagesCommand::Gc => gc(data_dir).await,
            PackagesCommand::Token(TokenCommand::Create { owner, scopes }) => {
                create_token(data_dir, owner.as_deref(), scopes).await
            }
        }
    })
}

async fn serve_until_interrupted(
    data_dir: Option<&Path>,
    args: &ServeArgs,
) -> Result<Outcome, CliError> {
    // Listening before the address is printed: whoever reads it may signal at once.
    let stop = stop_signals().map_err(RegistryError::Signals)?;
    let handle = registry::serve(data_dir, args.addr).await?;
    let all = [
        Scope::ReadPackages,
        Scope::WritePackages,
        Scope::DeletePackages,
    ];
    let token = handle
        .registry()
        .create_token(ADMIN_SUBJECT, None, &all, None)
        .await
        .map_err(RegistryError::from)?;
    let addr = handle.addr();
    output::print(&format!(
        "address: {addr}\nnpm: http://{addr}/\ncontainers: {addr}\ntoken: {token}\n"
    ))?;
    output::note("gantry packages: serving until Ctrl-C\n");
    stop.recv().await;
    // The administrator token lives only as long as this server.
    let _ = handle.registry().revoke_token(&token).await;
    handle.shutdown().await;
    Ok(Outcome::Clean)
}

/// Ctrl-C (SIGINT) and SIGTERM (what `kill` and service managers send): either stops the
/// server cleanly, revoking its administrator token.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

fn stop_signals() -> std::io::Result<StopSignals> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok(StopSignals {
        interrupt: signal(SignalKind::interrupt())?,
        terminate: signal(SignalKind::terminate())?,
    })
}

impl StopSignals {
    async fn recv(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

async fn list(data_dir: Option<&Path>) -> Result<Outcome, CliError> {
    let registry = registry::open(data_dir).await?;
    let packages = registry.packages().await.map_err(RegistryError::from)?;
    if packages.is_empty() {
        output::note("no packages\n");
        return Ok(Outcome::Clean);
    }
    let width = packages.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for p in &packages {
        out.push_str(&format!(
            "{:<9}  {:<width$}  {:<7}  {}\n",
            kind_name(p.kind),
            p.name,
            visibility_name(p.visibility),
            crate::render::plural(p.versions, "version"),
        ));
    }
    output::print(&out)?;
    Ok(Outcome::Clean)
}

async fn show(data_dir: Option<&Path>, name: &str) -> Result<Outcome, CliError> {
    let registry = registry::open(data_dir).await?;
    let detail = registry
        .package(name)
        .await
        .map_err(RegistryError::from)?
        .ok_or_else(|| RegistryError::NoSuchPackage(name.to_owned()))?;
    output::print(&render_detail(&detail))?;
    Ok(Outcome::Clean)
}

fn render_detail(detail: &PackageDetail) -> String {
    let s = &detail.summary;
    let mut out = format!(
        "{} ({}, owner {}, {})\n",
        s.name,
        kind_name(s.kind),
        s.owner,
        visibility_name(s.visibility)
    );
    for v in &detail.versions {
        out.push_str(&format!("  {}", v.version));
        if !v.tags.is_empty() {
            out.push_str(&format!("  [{}]", v.tags.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// `NAME` deletes the package, `NAME@VERSION` one version (for containers a tag or digest).
async fn delete(data_dir: Option<&Path>, spec: &str) -> Result<Outcome, CliError> {
    let registry = registry::open(data_dir).await?;
    match split_spec(spec) {
        (name, None) => {
            if !registry
                .delete_package(name)
                .await
                .map_err(RegistryError::from)?
            {
                return Err(RegistryError::NoSuchPackage(name.to_owned()).into());
            }
        }
        (name, Some(version)) => delete_version(&registry, name, version).await?,
    }
    output::print(&format!("deleted {spec}\n"))?;
    Ok(Outcome::Clean)
}

async fn delete_version(registry: &Registry, name: &str, version: &str) -> Result<(), CliError> {
    if registry
        .delete_version(name, version)
        .await
        .map_err(RegistryError::from)?
    {
        return Ok(());
    }
    let known = registry.package(name).await.map_err(RegistryError::from)?;
    Err(match known {
        None => RegistryError::NoSuchPackage(name.to_owned()),
        Some(_) => RegistryError::NoSuchVersion {
            name: name.to_owned(),
            version: version.to_owned(),
        },
    }
    .into())
}

/// `@scope/name@1.0.0` → (`@scope/name`, `1.0.0`); a leading `@` is the npm scope, not a
/// version separator.
fn split_spec(spec: &str) -> (&str, Option<&str>) {
    match spec.rfind('@') {
        Some(at) if at > 0 => (&spec[..at], Some(&spec[at + 1..])),
        _ => (spec, None),
    }
}

async fn gc(data_dir: Option<&Path>) -> Result<Outcome, CliError> {
    let registry = registry::open(data_dir).await?;
    let report = registry.gc().await.map_err(RegistryError::from)?;
    output::print(&format!(
        "removed {} ({} bytes), {}\n",
        crate::render::plural(report.blobs_removed, "blob"),
        report.bytes_freed,
        crate::render::plural(report.uploads_removed, "stale upload"),
    ))?;
    Ok(Outcome::Clean)
}

async fn create_token(
    data_dir: Option<&Path>,
    owner: Option<&str>,
    scopes: &[String],
) -> Result<Outcome, CliError> {
    let scopes = registry::parse_scopes(scopes)?;
    let registry = registry::open(data_dir).await?;
    let subject = owner.unwrap_or(ADMIN_SUBJECT);
    let token = registry
        .create_token(subject, owner, &scopes, None)
        .await
        .map_err(RegistryError::from)?;
    output::print(&format!("{token}\n"))?;
    Ok(Outcome::Clean)
}

fn kind_name(kind: PackageKind) -> &'static str {
    match kind {
        PackageKind::Npm => "npm",
        PackageKind::Container => "container",
    }
}

fn visibility_name(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_split_at_the_last_at_sign_after_the_scope() {
        assert_eq!(split_spec("@o/p@1.0.0"), ("@o/p", Some("1.0.0")));
        assert_eq!(split_spec("@o/p"), ("@o/p", None));
        assert_eq!(split_spec("o/app@sha256:ab"), ("o/app", Some("sha256:ab")));
        assert_eq!(split_spec("o/app"), ("o/app", None));
    }
}
