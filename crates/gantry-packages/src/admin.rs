//! Administration without HTTP: what `gantry packages list|show|delete` need, working on the
//! data directory directly (a running server sees the changes: SQLite serialises writers).

use crate::config::Visibility;
use crate::db::{AdminPackageRow, NpmChange};
use crate::error::Error;
use crate::registry::{PackageKind, Registry};

/// One package, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSummary {
    pub kind: PackageKind,
    /// `@owner/name` for npm, `owner/name` for containers.
    pub name: String,
    pub owner: String,
    pub visibility: Visibility,
    /// npm versions, or container manifests.
    pub versions: usize,
}

/// One version of a package: an npm version, or a container manifest digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageVersion {
    pub version: String,
    /// npm dist-tags or container tags naming this version.
    pub tags: Vec<String>,
    /// Seconds since the epoch (npm only: manifests carry no upload time).
    pub created: Option<i64>,
}

/// A package with its versions (npm: oldest first; containers: by digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDetail {
    pub summary: PackageSummary,
    pub versions: Vec<PackageVersion>,
}

/// npm names are scoped (`@owner/name`); everything else names a container repository.
fn kind_of(name: &str) -> PackageKind {
    if name.starts_with('@') {
        PackageKind::Npm
    } else {
        PackageKind::Container
    }
}

impl Registry {
    /// Every package, npm first, then containers, each by name.
    pub async fn packages(&self) -> Result<Vec<PackageSummary>, Error> {
        let rows = self.inner.db.admin_packages().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.summary(row).await?);
        }
        Ok(out)
    }

    async fn summary(&self, row: AdminPackageRow) -> Result<PackageSummary, Error> {
        let kind = if row.kind == PackageKind::Npm.as_str() {
            PackageKind::Npm
        } else {
            PackageKind::Container
        };
        let versions = match kind {
            PackageKind::Npm => self.inner.db.npm_versions(&row.name).await?.len(),
            PackageKind::Container => self.inner.db.oci_manifest_digests(&row.name).await?.len(),
        };
        Ok(PackageSummary {
            kind,
            name: row.name,
            owner: row.owner,
            visibility: Visibility::parse(&row.visibility),
            versions,
        })
    }

    /// The package named `name` with its versions; `None` when there is none.
    pub async fn package(&self, name: &str) -> Result<Option<PackageDetail>, Error> {
        let kind = kind_of(name);
        let Some(row) = self.inner.db.admin_package(kind.as_str(), name).await? else {
            return Ok(None);
        };
        let summary = self.summary(row).await?;
        let versions = match kind {
            PackageKind::Npm => self.npm_versions(name).await?,
            PackageKind::Container => self.container_versions(name).await?,
        };
        Ok(Some(PackageDetail { summary, versions }))
    }

    async fn npm_versions(&self, name: &str) -> Result<Vec<PackageVersion>, Error> {
        let tags = self.inner.db.npm_tags(name).await?;
        let mut versions: Vec<PackageVersion> = self
            .inner
            .db
            .npm_versions(name)
            .await?
            .into_iter()
            .map(|row| PackageVersion {
                tags: tags_for(&tags, &row.version),
                version: row.version,
                created: Some(row.created),
            })
            .collect();
        versions.sort_by(|a, b| (a.created, &a.version).cmp(&(b.created, &b.version)));
        Ok(versions)
    }

    async fn container_versions(&self, name: &str) -> Result<Vec<PackageVersion>, Error> {
        let tags = self.inner.db.oci_tag_digests(name).await?;
        let versions = self
            .inner
            .db
            .oci_manifest_digests(name)
            .await?
            .into_iter()
            .map(|digest| PackageVersion {
                tags: tags_for(&tags, &digest),
                version: digest,
                created: None,
            })
            .collect();
        Ok(versions)
    }

    /// Deletes a package and all its versions; `false` when there was none. The bytes go with
    /// the next [`Registry::gc`].
    pub async fn delete_package(&self, name: &str) -> Result<bool, Error> {
        let kind = kind_of(name);
        if self
            .inner
            .db
            .admin_package(kind.as_str(), name)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        match kind {
            PackageKind::Npm => self.inner.db.npm_delete(name).await?,
            PackageKind::Container => self.inner.db.oci_delete_repository(name).await?,
        }
        Ok(true)
    }

    /// Deletes one version: an npm version, or a container manifest named by digest or by one
    /// of its tags (with every tag naming it, as GitHub deletes a container version). Deleting
    /// the last npm version deletes the package, as npm does. `false` when there was none.
    pub async fn delete_version(&self, name: &str, version: &str) -> Result<bool, Error> {
        match kind_of(name) {
            PackageKind::Npm => self.delete_npm_version(name, version).await,
            PackageKind::Container => {
                let digest = if version.contains(':') {
                    Some(version.to_owned())
                } else {
                    self.inner.db.tag(name, version).await?
                };
                match digest {
                    Some(digest) => Ok(self.inner.db.delete_manifest(name, &digest).await?),
                    None => Ok(false),
                }
            }
        }
    }

    async fn delete_npm_version(&self, name: &str, version: &str) -> Result<bool, Error> {
        let rows = self.inner.db.npm_versions(name).await?;
        if !rows.iter().any(|r| r.version == version) {
            return Ok(false);
        }
        let remaining: Vec<&str> = rows
            .iter()
            .map(|r| r.version.as_str())
            .filter(|v| *v != version)
            .collect();
        if remaining.is_empty() {
            self.inner.db.npm_delete(name).await?;
            return Ok(true);
        }
        let mut changes = vec![NpmChange::RemoveVersion {
            version: version.to_owned(),
        }];
        // `latest` must keep naming a version: npm moves it to the highest one left.
        let latest = self.inner.db.npm_tags(name).await?;
        let latest_gone = latest.iter().any(|(t, v)| t == "latest" && v == version);
        if latest_gone && let Some(highest) = highest_version(&remaining) {
            changes.push(NpmChange::SetTag {
                tag: "latest".to_owned(),
                version: highest,
            });
        }
        self.inner.db.npm_apply(name, &changes).await?;
        Ok(true)
    }
}

fn tags_for(tags: &[(String, String)], version: &str) -> Vec<String> {
    tags.iter()
        .filter(|(_, v)| v == version)
        .map(|(t, _)| t.clone())
        .collect()
}

fn highest_version(versions: &[&str]) -> Option<String> {
    versions
        .iter()
        .filter_map(|v| semver::Version::parse(v).ok())
        .max()
        .map(|v| v.to_string())
}
