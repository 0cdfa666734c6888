//! `gantry.toml`: what the daemon serves, where it keeps its data and how much it runs at once.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! data_dir = "/var/lib/gantry"
//! capacity = 2
//! log_retention_days = 30
//! on_restart = "fail"          # or "requeue": what happens to runs in flight at a crash
//! drain_timeout_secs = 60
//! webhook_secret = "..."        # optional default for repositories without their own
//! api_token = "..."             # optional: the admin token; then every read needs a token too
//! api_read_token = "..."        # optional: reads only (runs, logs, deliveries, metrics)
//! allowed_hosts = ["ci.internal"]          # Host names the page and API answer, besides
//!                                          # loopback, the listen address and public_url's host
//! allowed_origins = ["https://ops.example.com"]  # other origins that may send mutations
//!
//! [labels]
//! ubuntu-latest = "ghcr.io/catthehacker/ubuntu:act-latest"
//! self-hosted = "host"          # run on this machine, no container
//!
//! [packages]                    # the npm/OCI registry on the same port
//! enabled = true
//! public_url = "https://gantry.example.com"   # how runs reach it, when not `listen`
//! token_ttl_hours = 6
//! storage_dir = "/mnt/shared/packages"       # blobs and uploads; shared by every daemon of one registry
//! pool_size = 4                 # metadata connections when [store] is PostgreSQL
//!
//! [services]                    # artifacts and caches for actions/upload-artifact, actions/cache
//! enabled = true
//! max_retention_days = 90       # the longest `retention-days` an artifact is kept for
//! cache_limit_mb = 10240        # per repository; least recently used entries go first
//! storage_dir = "/mnt/shared/services"       # blobs, staging, signing key; shared by every daemon
//! pool_size = 4                 # metadata connections when [store] is PostgreSQL
//!
//! [actions]                     # where `uses: OWNER/REPO@REF` and remote reusable workflows come from
//! data_dir = "/var/lib/gantry"  # whose actions/ store (default: data_dir)
//! pull = false                  # fetch what the store lacks from `forge`
//! forge = "https://github.com"
//!
//! [http]                        # every listener: webhook, API, page, registry
//! header_read_timeout_secs = 10
//! body_read_timeout_secs = 30
//! idle_timeout_secs = 60
//! max_connections = 1024
//! [store]                       # optional: PostgreSQL instead of the embedded SQLite
//! url = "postgres://gantry:secret@db.internal/gantry"
//! pool_size = 16
//! lease_secs = 60               # a dead daemon's runs are reaped this long after its last renewal
//! instance_id = "gantry-1"      # unique per daemon; defaults to hostname + data_dir
//! queue_poll_secs = 2           # look at the queue unprompted (LISTEN/NOTIFY wakes it sooner)
//!
//! [repositories."octo/hello"]
//! url = "/srv/git/hello.git"    # a local path or a file:// URL
//! default_branch = "main"       # for workflow_dispatch without a ref
//! webhook_secret = "..."
//! secrets = { TOKEN = "..." }
//! variables = { STAGE = "prod" }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// The daemon's configuration, as read from `gantry.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds (`127.0.0.1:0` picks a free port).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Database, repository mirrors and run workspaces live here.
    pub data_dir: PathBuf,
    /// How many runs execute at once.
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// Runs finished longer ago than this are deleted with their logs; 0 keeps everything.
    #[serde(default = "default_retention")]
    pub log_retention_days: u32,
    /// Accept unsigned webhooks. Only for local experiments.
    #[serde(default)]
    pub insecure: bool,
    /// What to do with runs that were in flight when the daemon died.
    #[serde(default)]
    pub on_restart: RestartPolicy,
    /// On shutdown, how long running jobs may take before they are cancelled.
    #[serde(default = "default_drain")]
    pub drain_timeout_secs: u64,
    /// Secret for repositories that do not set their own.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// The admin token. When set, the API answers only requests that present a token
    /// (`Authorization: Bearer <token>` or the page's session cookie); mutations need this one.
    #[serde(default)]
    pub api_token: Option<String>,
    /// A read-only token: runs, logs, deliveries, metrics and streams, no mutation.
    #[serde(default)]
    pub api_read_token: Option<String>,
    /// `Host` names (`name` or `name:port`) the page and API answer besides the loopback
    /// names, the listen address and `packages.public_url`'s host: a browser tricked by DNS
    /// rebinding sends the attacker's name and is refused.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Origins (`https://name[:port]`) besides the daemon's own whose pages may send
    /// mutations.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// `runs-on` label → container image.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Full name (`owner/repo`) → repository.
    #[serde(default)]
    pub repositories: BTreeMap<String, RepoConfig>,
    /// The embedded package registry (npm and OCI), served at the daemon's address.
    #[serde(default)]
    pub packages: PackagesConfig,
    /// Timeouts and the connection cap of the listener (webhook, API, page and registry).
    #[serde(default)]
    pub http: gantry_http::Limits,
    /// Where runs, logs and deliveries are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[actions]`: where remote actions come from.
    #[serde(default)]
    pub actions: ActionsConfig,
    /// `[services]`: the artifact and cache services runs get.
    #[serde(default)]
    pub services: ServicesConfig,
}

/// `[services]`: the runner services (artifacts, caches) served at the daemon's address, with
/// data in `<data_dir>/services`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    /// Serve them and give each run an `ACTIONS_RUNTIME_TOKEN`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The longest retention an artifact may ask for (`retention-days`); longer is capped.
    #[serde(default = "default_retention_cap")]
    pub max_retention_days: u32,
    /// One repository's caches, in MiB, before the least recently used are evicted.
    #[serde(default = "default_cache_limit")]
    pub cache_limit_mb: u64,
    /// Where content, staged uploads and the token signing key live; `data_dir/services` by
    /// default. Several daemons on one PostgreSQL store point this at one shared directory.
    #[serde(default)]
    pub storage_dir: Option<PathBuf>,
    /// Connections of the services' own pool when their metadata is in PostgreSQL (it is
    /// whenever `[store] url` is set: the same database, `svc_` tables).
    #[serde(default = "default_packages_pool")]
    pub pool_size: usize,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            enabled: true,
            max_retention_days: default_retention_cap(),
            cache_limit_mb: default_cache_limit(),
            storage_dir: None,
            pool_size: default_packages_pool(),
        }
    }
}

/// GitHub's longest artifact retention.
fn default_retention_cap() -> u32 {
    90
}
/// GitHub's default cache size per repository: 10 GB.
fn default_cache_limit() -> u64 {
    10 * 1024
}

/// `[actions]`: the action store runs take remote actions (`uses: OWNER/REPO@REF`) from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsConfig {
    /// The data directory whose `actions/` store is used (default: `data_dir`); point it at
    /// `gantry run`'s (`~/.local/share/gantry`) to share one store.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Fetch actions the store lacks from `forge` (off: runs are offline).
    #[serde(default)]
    pub pull: bool,
    /// The forge `pull` fetches from (default `https://github.com`).
    #[serde(default)]
    pub forge: Option<String>,
}

/// `[store]`: SQLite in `data_dir` unless `url` names a PostgreSQL database, which several
/// daemons may share (see `docs/scaling.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/database`.
    #[serde(default)]
    pub url: Option<String>,
    /// Connections each daemon keeps to PostgreSQL.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// A running run belongs to its daemon while the daemon renews its lease (every third of
    /// this); once it expired, any daemon fails or re-queues the run (`on_restart`).
    #[serde(default = "default_lease")]
    pub lease_secs: u64,
    /// This daemon's name among the daemons sharing the database: unique, and stable across
    /// its restarts (a restart then recovers its own runs at once instead of after the lease).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// How often the scheduler looks at the queue without being woken. A run queued or a
    /// slot freed by this daemon wakes it at once, and on PostgreSQL so does another daemon's
    /// (`NOTIFY gantry_queue`); the poll only covers notifications lost while the `LISTEN`
    /// connection was down, so a larger value costs latency only in that case.
    #[serde(default = "default_queue_poll")]
    pub queue_poll_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: None,
            pool_size: default_pool_size(),
            lease_secs: default_lease(),
            instance_id: None,
            queue_poll_secs: default_queue_poll(),
        }
    }
}

fn default_pool_size() -> usize {
    16
}
fn default_lease() -> u64 {
    60
}
fn default_queue_poll() -> u64 {
    2
}

/// The shortest lease: renewals run every third of it, at least once a second.
pub const MIN_LEASE_SECS: u64 = 3;

/// `[packages]`: GitHub Packages, self-hosted, on the daemon's port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesConfig {
    /// Serve the registry and give each run a `GITHUB_TOKEN` for it.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The address runs and clients reach the daemon at (`https://gantry.example.com`), when
    /// it is not the listen address (behind a reverse proxy, or jobs in containers).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Hours a run's `GITHUB_TOKEN` stays valid.
    #[serde(default = "default_token_hours")]
    pub token_ttl_hours: u64,
    /// Where blobs and upload sessions live; `data_dir/packages` by default. Several daemons
    /// serving one registry (`[store]` on PostgreSQL) point this at one shared directory.
    #[serde(default)]
    pub storage_dir: Option<PathBuf>,
    /// Connections of the registry's own pool when its metadata is in PostgreSQL (it is
    /// whenever `[store] url` is set: the same database, `pkg_` tables).
    #[serde(default = "default_packages_pool")]
    pub pool_size: usize,
}

impl Default for PackagesConfig {
    fn default() -> Self {
        PackagesConfig {
            enabled: true,
            public_url: None,
            token_ttl_hours: default_token_hours(),
            storage_dir: None,
            pool_size: default_packages_pool(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_token_hours() -> u64 {
    6
}
fn default_packages_pool() -> usize {
    4
}

/// One repository the daemon runs workflows for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Where to fetch from: a local path or a `file://` URL.
    pub url: String,
    /// The branch `workflow_dispatch` uses when no ref is given.
    #[serde(default = "default_branch")]
    pub default_branch: String,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// The `secrets` context.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The `vars` context.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// What happens to runs that were running when the daemon was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestartPolicy {
    /// Finish them as failed, with the reason.
    #[default]
    Fail,
    /// Queue them again (a new attempt of the same run).
    Requeue,
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}
fn default_branch() -> String {
    "main".to_owned()
}
fn default_capacity() -> usize {
    2
}
fn default_retention() -> u32 {
    30
}
fn default_drain() -> u64 {
    60
}

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigProblem {
    #[error("listen: '{0}' is not an address like 127.0.0.1:8080")]
    Listen(String),
    #[error("capacity must be at least 1")]
    Capacity,
    #[error("data_dir must not be empty")]
    DataDir,
    #[error("repositories.\"{0}\": the name must be owner/repo")]
    RepoName(String),
    #[error("repositories.\"{0}\".url must not be empty")]
    RepoUrl(String),
    #[error(
        "repositories.\"{0}\".url: '{1}' is not a local path or file:// URL (gantry fetches without network transports)"
    )]
    RepoUrlScheme(String, String),
    #[error("no webhook secret is configured (set webhook_secret, or insecure = true)")]
    NoSecret,
    #[error(
        "repositories.\"{0}\": no webhook_secret (set one, a top-level webhook_secret, or insecure = true)"
    )]
    MissingSecret(String),
    #[error("repositories.\"{0}\": the webhook secret is empty")]
    EmptySecret(String),
    #[error("labels.\"{0}\": the image must not be empty")]
    LabelImage(String),
    #[error(transparent)]
    Http(#[from] gantry_http::LimitProblem),
    #[error("store.url: '{0}' is not a postgres:// or postgresql:// URL")]
    StoreUrl(String),
    #[error("store.lease_secs must be at least {MIN_LEASE_SECS}")]
    LeaseSecs,
    #[error("store.pool_size must be at least 1")]
    PoolSize,
    #[error("packages.pool_size must be at least 1")]
    PackagesPoolSize,
    #[error("store.queue_poll_secs must be at least 1")]
    QueuePoll,
    #[error("store.instance_id must not be empty")]
    InstanceId,
    #[error("{0} must not be empty")]
    EmptyToken(&'static str),
    #[error("api_read_token needs api_token (without an admin token the API is open)")]
    ReadTokenWithoutAdmin,
    #[error("api_read_token must differ from api_token")]
    SameTokens,
    #[error("allowed_origins: '{0}' is not an origin like https://name[:port]")]
    Origin(String),
    #[error("allowed_hosts: '{0}' is not a host name (with an optional :port)")]
    Host(String),
    #[error("services.max_retention_days must be between 1 and 400")]
    RetentionCap,
    #[error("services.cache_limit_mb must be at least 1")]
    CacheLimit,
    #[error("services.pool_size must be at least 1")]
    ServicesPoolSize,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid gantry.toml: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("invalid configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ConfigProblem>),
}

impl Config {
    /// Parses and checks a configuration.
    pub fn from_toml(source: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(source)?;
        check_config(&config).map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// Reads, parses and checks `gantry.toml`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&source)
    }

    /// A configuration with defaults for everything but the data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: default_listen(),
            data_dir: data_dir.into(),
            capacity: default_capacity(),
            log_retention_days: default_retention(),
            insecure: false,
            on_restart: RestartPolicy::Fail,
            drain_timeout_secs: default_drain(),
            webhook_secret: None,
            api_token: None,
            api_read_token: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            labels: BTreeMap::new(),
            repositories: BTreeMap::new(),
            packages: PackagesConfig::default(),
            http: gantry_http::Limits::default(),
            store: StoreConfig::default(),
            actions: ActionsConfig::default(),
            services: ServicesConfig::default(),
        }
    }

    /// The owner name of this daemon's runs in a shared store: `[store] instance_id`, or the
    /// host name and the data directory (one daemon per data directory and host, and the
    /// same after a restart).
    pub fn instance_id(&self) -> String {
        if let Some(id) = &self.store.instance_id {
            return id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}:{}", self.data_dir.display())
    }

    /// The secret that signs `repo`'s webhooks.
    pub fn secret_for(&self, repo: &str) -> Option<&str> {
        self.repositories
            .get(repo)
            .and_then(|r| r.webhook_secret.as_deref())
            .or(self.webhook_secret.as_deref())
    }

    /// Every configured secret, so a signature can be verified before the body is parsed.
    pub fn all_secrets(&self) -> Vec<&str> {
        let repo_secrets = self
            .repositories
            .values()
            .filter_map(|r| r.webhook_secret.as_deref());
        let mut secrets: Vec<&str> = repo_secrets.chain(self.webhook_secret.as_deref()).collect();
        secrets.sort_unstable();
        secrets.dedup();
        secrets
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigProblem> {
        self.listen
            .parse()
            .map_err(|_| ConfigProblem::Listen(self.listen.clone()))
    }
}

/// Checks a configuration, reporting every problem at once.
pub fn check_config(config: &Config) -> Result<(), Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    if let Err(p) = config.listen_addr() {
        problems.push(p);
    }
    if config.capacity == 0 {
        problems.push(ConfigProblem::Capacity);
    }
    if config.data_dir.as_os_str().is_empty() {
        problems.push(ConfigProblem::DataDir);
    }
    for (name, repo) in &config.repositories {
        problems.extend(check_repo(config, name, repo));
    }
    if !config.insecure && config.repositories.is_empty() && config.all_secrets().is_empty() {
        problems.push(ConfigProblem::NoSecret);
    }
    for (label, image) in &config.labels {
        if image.trim().is_empty() {
            problems.push(ConfigProblem::LabelImage(label.clone()));
        }
    }
    problems.extend(config.http.problems().into_iter().map(ConfigProblem::Http));
    problems.extend(check_store(&config.store));
    problems.extend(check_api(config));
    problems.extend(check_services(&config.services));
    if config.packages.pool_size == 0 {
        problems.push(ConfigProblem::PackagesPoolSize);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_store(store: &StoreConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if let Some(url) = &store.url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        problems.push(ConfigProblem::StoreUrl(url.clone()));
    }
    if store.lease_secs < MIN_LEASE_SECS {
        problems.push(ConfigProblem::LeaseSecs);
    }
    if store.pool_size == 0 {
        problems.push(ConfigProblem::PoolSize);
    }
    if store.queue_poll_secs == 0 {
        problems.push(ConfigProblem::QueuePoll);
    }
    if store
        .instance_id
        .as_deref()
        .is_some_and(|i| i.trim().is_empty())
    {
        problems.push(ConfigProblem::InstanceId);
    }
    problems
}

fn check_api(config: &Config) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let tokens = [
        ("api_token", &config.api_token),
        ("api_read_token", &config.api_read_token),
    ];
    for (key, token) in tokens {
        if token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            problems.push(ConfigProblem::EmptyToken(key));
        }
    }
    match (&config.api_token, &config.api_read_token) {
        (None, Some(_)) => problems.push(ConfigProblem::ReadTokenWithoutAdmin),
        (Some(a), Some(r)) if a == r => problems.push(ConfigProblem::SameTokens),
        _ => {}
    }
    for origin in &config.allowed_origins {
        if crate::http::origin::parse_origin(origin).is_none() {
            problems.push(ConfigProblem::Origin(origin.clone()));
        }
    }
    for host in &config.allowed_hosts {
        if crate::http::origin::host_name(host).is_none() {
            problems.push(ConfigProblem::Host(host.clone()));
        }
    }
    problems
}

fn check_services(services: &ServicesConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if !(1..=400).contains(&services.max_retention_days) {
        problems.push(ConfigProblem::RetentionCap);
    }
    if services.cache_limit_mb == 0 {
        problems.push(ConfigProblem::CacheLimit);
    }
    if services.pool_size == 0 {
        problems.push(ConfigProblem::ServicesPoolSize);
    }
    problems
}

fn check_repo(config: &Config, name: &str, repo: &RepoConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
        problems.push(ConfigProblem::RepoName(name.to_owned()));
    }
    let url = repo.url.trim();
    if url.is_empty() {
        problems.push(ConfigProblem::RepoUrl(name.to_owned()));
    } else if url.contains("://") && !url.starts_with("file://") || url.starts_with("git@") {
        problems.push(ConfigProblem::RepoUrlScheme(
            name.to_owned(),
            url.to_owned(),
        ));
    }
    match config.secret_for(name) {
        Some("") => problems.push(ConfigProblem::EmptySecret(name.to_owned())),
        None if !config.insecure => problems.push(ConfigProblem::MissingSecret(name.to_owned())),
        _ => {}
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example_parses() {
        let config = Config::from_toml(
            r#"
            listen = "127.0.0.1:9000"
            data_dir = "/tmp/x"
            capacity = 3
            on_restart = "requeue"
            [labels]
            ubuntu-latest = "node:20"
            [repositories."octo/hello"]
            url = "/srv/hello"
            webhook_secret = "s3cret"
            secrets = { TOKEN = "t" }
            variables = { STAGE = "prod" }
            "#,
        )
        .unwrap();
        assert_eq!(config.capacity, 3);
        assert_eq!(config.on_restart, RestartPolicy::Requeue);
        assert_eq!(config.secret_for("octo/hello"), Some("s3cret"));
        assert_eq!(config.repositories["octo/hello"].variables["STAGE"], "prod");
    }

    #[test]
    fn missing_secret_is_refused_unless_insecure() {
        let source = "data_dir = \"/d\"\n[repositories.\"a/b\"]\nurl = \"/r\"\n";
        let Err(ConfigError::Invalid(problems)) = Config::from_toml(source) else {
            panic!("accepted a repository without a secret");
        };
        assert_eq!(problems, vec![ConfigProblem::MissingSecret("a/b".into())]);
        assert!(Config::from_toml(&format!("insecure = true\n{source}")).is_ok());
        let Err(ConfigError::Invalid(problems)) = Config::from_toml("data_dir = \"/d\"") else {
            panic!("accepted a daemon without any secret");
        };
        assert_eq!(problems, vec![ConfigProblem::NoSecret]);
    }

    #[test]
    fn every_problem_is_reported_in_one_pass() {
        let source = r#"
            listen = "nope"
            data_dir = ""
            capacity = 0
            webhook_secret = "x"
            [labels]
            big = " "
            [repositories."noslash"]
            url = ""
            [repositories."a/remote"]
            url = "https://github.com/a/remote"
        "#;
        let Err(ConfigError::Invalid(problems)) = Config::from_toml(source) else {
            panic!("accepted an invalid configuration");
        };
        assert_eq!(
            problems,
            vec![
                ConfigProblem::Listen("nope".into()),
                ConfigProblem::Capacity,
                ConfigProblem::DataDir,
                ConfigProblem::RepoUrlScheme(
                    "a/remote".into(),
                    "https://github.com/a/remote".into()
                ),
                ConfigProblem::RepoName("noslash".into()),
                ConfigProblem::RepoUrl("noslash".into()),
                ConfigProblem::LabelImage("big".into()),
            ]
        );
    }

    #[test]
    fn the_documented_example_parses_with_its_http_limits() {
        let config = Config::from_toml(include_str!("../../../docs/gantry.toml")).unwrap();
        assert_eq!(config.http, gantry_http::Limits::default());
        let config = Config::from_toml(
            "data_dir = \"/d\"\ninsecure = true\n[http]\nidle_timeout_secs = 5\nmax_connections = 9\n",
        )
        .unwrap();
        assert_eq!(config.http.idle_timeout, std::time::Duration::from_secs(5));
        assert_eq!(config.http.max_connections, 9);
        let Err(ConfigError::Invalid(problems)) =
            Config::from_toml("data_dir = \"/d\"\ninsecure = true\n[http]\nmax_connections = 0\n")
        else {
            panic!("accepted max_connections = 0");
        };
        assert_eq!(
            problems,
            vec![ConfigProblem::Http(
                gantry_http::LimitProblem::ZeroConnections
            )]
        );
    }

    #[test]
    fn store_section_selects_postgres_and_is_checked() {
        let base = "insecure = true\ndata_dir = \"/d\"\n";
        let config = Config::from_toml(&format!(
            "{base}[store]\nurl = \"postgres://g@127.0.0.1/g\"\nlease_secs = 10\ninstance_id = \"a\"\n"
        ))
        .unwrap();
        assert_eq!(
            config.store.url.as_deref(),
            Some("postgres://g@127.0.0.1/g")
        );
        assert_eq!(config.instance_id(), "a");
        assert_eq!(Config::from_toml(base).unwrap().store.url, None);
        let Err(ConfigError::Invalid(problems)) = Config::from_toml(&format!(
            "{base}[store]\nurl = \"mysql://x\"\nlease_secs = 1\npool_size = 0\ninstance_id = \" \"\nqueue_poll_secs = 0\n"
        )) else {
            panic!("accepted an invalid [store]");
        };
        assert_eq!(
            problems,
            vec![
                ConfigProblem::StoreUrl("mysql://x".into()),
                ConfigProblem::LeaseSecs,
                ConfigProblem::PoolSize,
                ConfigProblem::QueuePoll,
                ConfigProblem::InstanceId,
            ]
        );
        let shared = Config::from_toml(&format!(
            "{base}[packages]\nstorage_dir = \"/mnt/blobs\"\npool_size = 2\n"
        ))
        .unwrap();
        assert_eq!(
            shared.packages.storage_dir.as_deref(),
            Some(Path::new("/mnt/blobs"))
        );
        assert_eq!(shared.packages.pool_size, 2);
        let Err(ConfigError::Invalid(problems)) =
            Config::from_toml(&format!("{base}[packages]\npool_size = 0\n"))
        else {
            panic!("accepted packages.pool_size = 0");
        };
        assert_eq!(problems, vec![ConfigProblem::PackagesPoolSize]);
    }

    #[test]
    fn api_tokens_hosts_and_origins_are_checked() {
        let base = "insecure = true\ndata_dir = \"/d\"\n";
        let config = Config::from_toml(&format!(
            "{base}api_token = \"a\"\napi_read_token = \"r\"\nallowed_hosts = [\"ci.internal\"]\nallowed_origins = [\"https://ops.example.com\"]\n"
        ))
        .unwrap();
        assert_eq!(config.api_read_token.as_deref(), Some("r"));
        let Err(ConfigError::Invalid(problems)) = Config::from_toml(&format!(
            "{base}api_read_token = \" \"\nallowed_hosts = [\"a b\"]\nallowed_origins = [\"ops.example.com\"]\n"
        )) else {
            panic!("accepted invalid API settings");
        };
        assert_eq!(
            problems,
            vec![
                ConfigProblem::EmptyToken("api_read_token"),
                ConfigProblem::ReadTokenWithoutAdmin,
                ConfigProblem::Origin("ops.example.com".into()),
                ConfigProblem::Host("a b".into()),
            ]
        );
        let Err(ConfigError::Invalid(problems)) = Config::from_toml(&format!(
            "{base}api_token = \"same\"\napi_read_token = \"same\"\n"
        )) else {
            panic!("accepted one token for both roles");
        };
        assert_eq!(problems, vec![ConfigProblem::SameTokens]);
    }

    #[test]
    fn services_section_is_read_and_checked() {
        let base = "insecure = true\ndata_dir = \"/d\"\n";
        let config = Config::from_toml(base).unwrap();
        assert!(config.services.enabled);
        assert_eq!(config.services.max_retention_days, 90);
        let config = Config::from_toml(&format!(
            "{base}[services]\nenabled = false\nmax_retention_days = 7\ncache_limit_mb = 64\n"
        ))
        .unwrap();
        assert!(!config.services.enabled);
        assert_eq!(config.services.cache_limit_mb, 64);
        let Err(ConfigError::Invalid(problems)) = Config::from_toml(&format!(
            "{base}[services]\nmax_retention_days = 0\ncache_limit_mb = 0\npool_size = 0\n"
        )) else {
            panic!("accepted an invalid [services]");
        };
        assert_eq!(
            problems,
            vec![
                ConfigProblem::RetentionCap,
                ConfigProblem::CacheLimit,
                ConfigProblem::ServicesPoolSize
            ]
        );
        let shared = Config::from_toml(&format!(
            "{base}[services]\nstorage_dir = \"/mnt/services\"\npool_size = 3\n"
        ))
        .unwrap();
        assert_eq!(
            shared.services.storage_dir.as_deref(),
            Some(Path::new("/mnt/services"))
        );
        assert_eq!(shared.services.pool_size, 3);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml("data_dir = \"/d\"\ncapacityy = 2\n").unwrap_err();
        assert!(err.to_string().contains("capacityy"), "{err}");
    }
}
