//! The command line. Every flag has an environment twin named `GANTRY_*`; a flag given on the
//! command line wins over its variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::color::ColorChoice;

/// A self-hostable GitHub Actions runner.
///
/// Logging: set GANTRY_LOG to a tracing filter (`debug`, `gantry_plan=trace,warn`); logs go to
/// stderr. Exit status: 0 success, 1 problems found (validation errors, a failed job, an
/// expression error), 2 usage or I/O error.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, max_term_width = 100)]
pub struct Cli {
    /// When to color the output: `auto` colors a terminal unless NO_COLOR is set.
    #[arg(
        long,
        value_enum,
        default_value_t = ColorChoice::Auto,
        env = "GANTRY_COLOR",
        global = true
    )]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(ValidateArgs),
    List(ListArgs),
    Graph(GraphArgs),
    Expr(ExprArgs),
    Run(Box<RunArgs>),
    Clean(CleanArgs),
    Packages(PackagesArgs),
    Actions(ActionsArgs),
    Artifacts(ArtifactsArgs),
    Cache(CacheArgs),
    Daemon(DaemonArgs),
}

/// Check workflow and action files and report every problem found.
///
/// Without PATH, reads the workflows in `.github/workflows` (top level only, as GitHub does) and
/// the actions in `action.yml`/`action.yaml` at the top of the current directory and anywhere
/// under `.github/` (where local actions live). A directory PATH is walked for `*.yml` and
/// `*.yaml`; a file named `action.yml` or `action.yaml` is read as an action, any other file as a
/// workflow.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files or directories to check.
    pub paths: Vec<PathBuf>,

    /// How to report what was found.
    #[arg(
        long,
        value_enum,
        default_value_t = ValidateFormat::Text,
        env = "GANTRY_VALIDATE_FORMAT"
    )]
    pub format: ValidateFormat,

    /// How many files to check at once. Sequential by default: over the 733-file real-world
    /// corpus, threads measured no gain on a loaded 2-core machine (scripts/bench-validate.sh).
    #[arg(short = 'j', long, env = "GANTRY_JOBS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// The linter's configuration (rules to turn off, extra runner labels); by default
    /// `.github/gantry.toml` when it exists.
    #[arg(long, env = "GANTRY_VALIDATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// gantry's data directory, whose action store holds the remote reusable workflows calls
    /// are checked against and the actions whose own action.yml `with:` is checked against
    /// (`gantry actions add/pull`; default: `~/.local/share/gantry`).
    #[arg(long, value_name = "DIR", env = "GANTRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// `file:line:col: severity: message [rule]`, the source line and a caret.
    Text,
    /// One JSON document (see the crate README for its shape).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

/// Where `list` and `graph` read workflows from.
#[derive(Debug, Args)]
pub struct WorkflowsArg {
    /// A workflow file, or a directory whose `*.yml`/`*.yaml` files are workflows.
    #[arg(
        short = 'W',
        long = "workflows",
        env = "GANTRY_WORKFLOWS",
        default_value = ".github/workflows"
    )]
    pub workflows: PathBuf,
}

/// List workflows and their jobs: names, needs, triggering events and matrix sizes.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the workflows this event triggers (`push`, `pull_request`, ...).
    pub event: Option<String>,

    #[command(flatten)]
    pub workflows: WorkflowsArg,
}

/// Show the job dependency graph (`needs:`) of each workflow.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Only the workflows this event triggers.
    pub event: Option<String>,

    #[command(flatten)]
    pub workflows: WorkflowsArg,

    /// `text` lists the stages, `dot` is Graphviz, `mermaid` a Mermaid flowchart.
    #[arg(
        long,
        value_enum,
        default_value_t = GraphFormat::Text,
        env = "GANTRY_GRAPH_FORMAT"
    )]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

/// Evaluate a `${{ }}` expression (without the braces) and print its value as JSON.
#[derive(Debug, Args)]
pub struct ExprArgs {
    /// The expression, e.g. `format('{0}-{1}', github.event_name, github.run_number)`.
    pub expression: String,

    /// A JSON object whose keys are context names (`{"env": {...}, "matrix": {...}}`).
    #[arg(long, env = "GANTRY_CONTEXT", value_name = "FILE.json")]
    pub context: Option<PathBuf>,

    /// A webhook payload, available as `github.event`.
    #[arg(long, env = "GANTRY_EVENT", value_name = "PAYLOAD.json")]
    pub event: Option<PathBuf>,

    /// The event's name, available as `github.event_name`.
    #[arg(long, env = "GANTRY_EVENT_NAME", value_name = "NAME")]
    pub event_name: Option<String>,
}

/// Run the workflows an event triggers, locally, with GitHub's semantics.
///
/// Jobs run in a container per job (never pulled: `-P` maps `runs-on` labels to local images) or
/// on this machine (`-P LABEL=host`). Output is live, one line per log line prefixed with the
/// job (`[build] ...`); `::group::` blocks are folded to their `▸ title` line unless
/// `--verbose`. Everything is also stored under `.gantry/runs/<n>/`.
///
/// Exit status: 0 every job succeeded, 1 a job failed (or a workflow is invalid), 2 usage
/// error, 130 cancelled (Ctrl-C). Ctrl-C once cancels the run (steps stop, containers are
/// removed); twice exits at once after a best-effort cleanup.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The event that triggers the run (`push`, `pull_request`, `release`, `workflow_dispatch`...).
    #[arg(default_value = "push", env = "GANTRY_RUN_EVENT")]
    pub event: String,

    #[command(flatten)]
    pub workflows: WorkflowsArg,

    /// Run only this job and the jobs it needs (repeatable).
    #[arg(
        short = 'j',
        long = "job",
        value_name = "JOB",
        env = "GANTRY_RUN_JOB",
        value_delimiter = ','
    )]
    pub job: Vec<String>,

    /// The webhook payload (`github.event`); without it gantry synthesizes a realistic one.
    #[arg(
        short = 'e',
        long = "payload",
        value_name = "PAYLOAD.json",
        env = "GANTRY_PAYLOAD"
    )]
    pub payload: Option<PathBuf>,

    /// A secret, `NAME=VALUE` or `NAME` to take the value from the environment (repeatable).
    #[arg(
        short = 's',
        long = "secret",
        value_name = "NAME[=VALUE]",
        env = "GANTRY_SECRET"
    )]
    pub secret: Vec<String>,

    /// A dotenv file of secrets (default: `.secrets` when present).
    #[arg(long, value_name = "FILE", env = "GANTRY_SECRET_FILE")]
    pub secret_file: Option<PathBuf>,

    /// A configuration variable (`vars.NAME`), `NAME=VALUE` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", env = "GANTRY_VAR")]
    pub var: Vec<String>,

    /// A dotenv file of configuration variables.
    #[arg(long, value_name = "FILE", env = "GANTRY_VAR_FILE")]
    pub var_file: Option<PathBuf>,

    /// A dotenv file of environment variables every step gets, below the workflow's own `env`
    /// (default: `.env` when present).
    #[arg(long, value_name = "FILE", env = "GANTRY_ENV_FILE")]
    pub env_file: Option<PathBuf>,

    /// A `workflow_dispatch` input, `NAME=VALUE` (repeatable).
    #[arg(long = "input", value_name = "NAME=VALUE", env = "GANTRY_INPUT")]
    pub input: Vec<String>,

    /// Where jobs with a `runs-on` label run: `LABEL=IMAGE` or `LABEL=host` (repeatable).
    /// Defaults: ubuntu-latest, ubuntu-24.04 and ubuntu-22.04 run in `gantry/runner:bookworm`.
    #[arg(
        short = 'P',
        long = "platform",
        value_name = "LABEL=IMAGE|host",
        env = "GANTRY_PLATFORM",
        value_delimiter = ','
    )]
    pub platform: Vec<String>,

    /// Run only the matrix rows where KEY has VALUE, `KEY:VALUE` (repeatable).
    #[arg(
        long,
        value_name = "KEY:VALUE",
        env = "GANTRY_MATRIX",
        value_delimiter = ','
    )]
    pub matrix: Vec<String>,

    /// How many jobs run at once.
    #[arg(long = "jobs", value_name = "N", env = "GANTRY_RUN_JOBS", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,

    /// Print the jobs, their needs, matrix rows and platforms; create nothing.
    #[arg(short = 'n', long, env = "GANTRY_DRY_RUN")]
    pub dry_run: bool,

    /// Leave job containers in place after the run (remove them with `gantry clean`).
    #[arg(long, env = "GANTRY_KEEP_CONTAINERS")]
    pub keep_containers: bool,

    /// Fail jobs whose runs-on label maps to no platform instead of skipping them with a notice.
    #[arg(long, env = "GANTRY_STRICT_PLATFORMS")]
    pub strict_platforms: bool,

    /// Mount the Docker socket into job containers.
    #[arg(long, env = "GANTRY_DOCKER_SOCKET")]
    pub docker_socket: bool,

    /// One JSON object per line for every run event (see the crate README for the shape).
    #[arg(long, env = "GANTRY_JSON")]
    pub json: bool,

    /// Show `::debug::` lines and set `RUNNER_DEBUG`, as the `ACTIONS_STEP_DEBUG` secret does.
    #[arg(long, env = "GANTRY_STEP_DEBUG")]
    pub step_debug: bool,

    /// Show the contents of folded groups (`::group::` and each step's `Run` header).
    #[arg(short = 'v', long, env = "GANTRY_VERBOSE")]
    pub verbose: bool,

    /// gantry's data directory; the embedded package registry keeps its packages under
    /// `DIR/packages` (default: `~/.local/share/gantry`).
    #[arg(long, value_name = "DIR", env = "GANTRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(flatten)]
    pub debug: DebugArgs,
    /// Fetch remote actions the action store lacks from the forge (`--forge`), adding them to
    /// the store; without it runs are offline and a missing action fails its job.
    #[arg(long, env = "GANTRY_PULL_ACTIONS")]
    pub pull_actions: bool,

    /// The forge `--pull-actions` fetches `OWNER/REPO` from.
    #[arg(
        long,
        value_name = "URL",
        env = "GANTRY_ACTIONS_FORGE",
        default_value = gantry_actions::DEFAULT_FORGE
    )]
    pub forge: String,

    /// Run this action from the action store although gantry has it built in, e.g.
    /// `--real-action actions/setup-node` (repeatable; the store must have the ref used).
    #[arg(
        long,
        value_name = "OWNER/REPO",
        env = "GANTRY_REAL_ACTION",
        value_delimiter = ','
    )]
    pub real_action: Vec<String>,

    /// Publish to this package registry (npm at its root, OCI at `/v2/`) instead of starting
    /// gantry's own; give its token with `-s GITHUB_TOKEN=...`.
    #[arg(long, value_name = "URL", env = "GANTRY_REGISTRY_URL")]
    pub registry: Option<String>,
}

/// Breakpoints, re-running from a step, watching, explaining (`gantry run`'s debugging flags).
#[derive(Debug, Args, Default)]
pub struct DebugArgs {
    /// Stop before this step (its `id`, its name, its 1-based position, or `JOB.STEP`) with the
    /// job's environment intact and open a shell there (repeatable).
    #[arg(
        long,
        value_name = "STEP",
        env = "GANTRY_PAUSE_BEFORE",
        value_delimiter = ','
    )]
    pub pause_before: Vec<String>,

    /// Stop after this step (same names as --pause-before; repeatable).
    #[arg(
        long,
        value_name = "STEP",
        env = "GANTRY_PAUSE_AFTER",
        value_delimiter = ','
    )]
    pub pause_after: Vec<String>,

    /// Stop when a step fails, before the job goes on: shell in, then retry, skip or abort.
    #[arg(long, env = "GANTRY_PAUSE_ON_FAILURE")]
    pub pause_on_failure: bool,

    /// Wait at most SECS at a pause, then continue; without it a pause needs a terminal.
    #[arg(long, value_name = "SECS", env = "GANTRY_PAUSE_TIMEOUT")]
    pub pause_timeout: Option<u64>,

    /// Run job JOB from step STEP on (`JOB.STEP`, STEP named as for --pause-before): the
    /// steps before it are replayed quietly to re-create the job's environment.
    #[arg(long = "from", value_name = "JOB.STEP", env = "GANTRY_FROM")]
    pub from: Option<String>,

    /// Run again whenever the workflow or a repository file changes (the running attempt is
    /// cancelled first); Ctrl-C stops watching.
    #[arg(long, env = "GANTRY_WATCH")]
    pub watch: bool,

    /// With --dry-run: for each job and step, the evaluated `if` and the values it read, the
    /// final `env`, the command line or action and inputs, and why a job would be skipped.
    #[arg(long, env = "GANTRY_EXPLAIN", requires = "dry_run")]
    pub explain: bool,
}

/// Remove the containers, networks and volumes that ended `gantry run`s in this repository
/// left (`--keep-containers`, a crash or a forced exit); never those of a run still going, of
/// another repository or a daemon's. `--all` removes everything gantry created (labelled
/// `io.gantry.managed`).
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Everything gantry created, whoever created it (running jobs and daemons' jobs fail).
    #[arg(long, env = "GANTRY_CLEAN_ALL")]
    pub all: bool,
}

/// Serve webhooks, run workflows with the engine, and host the package registry and web page.
///
/// Reads `gantry.toml` (see docs/gantry.toml). Drains on SIGTERM or Ctrl-C. Exit status: 0
/// after a drain, 1 for an invalid configuration, 2 when it cannot be read or the daemon cannot
/// start.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The configuration file.
    #[arg(long, env = "GANTRY_CONFIG", default_value = "gantry.toml")]
    pub config: PathBuf,

    /// Check the configuration, print every problem, and exit.
    #[arg(long)]
    pub check_config: bool,
}

/// Artifacts runs uploaded (`actions/upload-artifact`), kept in gantry's data directory.
#[derive(Debug, Args)]
pub struct ArtifactsArgs {
    /// gantry's data directory; artifacts live under `DIR/services` (default:
    /// `~/.local/share/gantry`).
    #[arg(long, value_name = "DIR", env = "GANTRY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: ArtifactsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// List artifacts: run id, artifact id, name, size, expiry. RUN is a `github.run_id`.
    List {
        /// Only this run's.
        run: Option<String>,
    },
    /// Save a run's artifacts as `NAME.zip` files (the zip the upload made, as GitHub's
    /// download gives it).
    Download {
        /// The run (`github.run_id`).
        run: String,
        /// Only the artifact with this name.
        #[arg(long)]
        name: Option<String>,
        /// Where to write the zips.
        #[arg(short = 'o', long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Delete a run's artifacts (or the one named with --name).
    Rm {
        /// The run (`github.run_id`).
        run: String,
        /// Only the artifact with this name.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Caches runs saved (`actions/cache`), kept between runs in gantry's data directory.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// gantry's data directory; caches live under `DIR/services` (default:
    /// `~/.local/share/gantry`).
    #[arg(long, value_name = "DIR", env = "GANTRY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cache entries, newest first: id, repository, ref, key, size, last use.
    List {
        /// Only this repository's (`owner/name`).
        #[arg(long)]
        repo: Option<String>,
    },
    /// Delete cache entries: those with the ids given, or every entry whose key starts with
    /// --key (of --repo, when given).
    Rm {
        /// Entry ids (from `gantry cache list`).
        ids: Vec<i64>,
        /// Delete the entries whose key starts with this.
        #[arg(long)]
        key: Option<String>,
        /// Only this repository's entries.
        #[arg(long)]
        repo: Option<String>,
    },
}

/// gantry's package registry (GitHub Packages for npm and containers, offline).
///
/// `gantry run` starts it for every run on a loopback port; these commands serve it standalone
/// or work on its data directory directly.
#[derive(Debug, Args)]
pub struct PackagesArgs {
    /// gantry's data directory; packages live under `DIR/packages` (default:
    /// `~/.local/share/gantry`).
    #[arg(long, value_name = "DIR", env = "GANTRY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: PackagesCommand,
}

#[derive(Debug, Subcommand)]
pub enum PackagesCommand {
    /// Serve the registry until Ctrl-C; prints its address and an administrator token (valid
    /// while it serves).
    Serve(ServeArgs),
    /// List every package: kind, name, visibility, how many versions.
    List,
    /// Show a package's versions and tags (`@owner/name` for npm, `owner/name` for containers).
    Show {
        /// The package.
        name: String,
    },
    /// Delete a package, or one version with `NAME@VERSION` (a tag or digest for containers).
    Delete {
        /// `NAME` or `NAME@VERSION`.
        spec: String,
    },
    /// Remove stored bytes nothing references any more (deleted versions, abandoned uploads)
    /// and expired tokens. Blobs younger than an hour stay: a push may be about to use them.
    Gc,
    /// Create tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0", env = "GANTRY_PACKAGES_ADDR")]
    pub addr: std::net::SocketAddr,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it does not expire; it is stored hashed).
    Create {
        /// Limit the token to this owner's packages (default: every owner).
        #[arg(long)]
        owner: Option<String>,
        /// `read`, `write`, `delete` (GitHub's `read:packages` names work too).
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
    },
}

/// gantry's action store: the remote actions (`uses: OWNER/REPO[/PATH]@REF`) runs use offline.
///
/// The store lives under `DIR/actions` of the data directory and is shared by `gantry run` and
/// `gantry daemon`. A run never fetches unless given `--pull-actions`; an action it lacks fails
/// with the command that adds it.
#[derive(Debug, Args)]
pub struct ActionsArgs {
    /// gantry's data directory; actions live under `DIR/actions` (default:
    /// `~/.local/share/gantry`).
    #[arg(long, value_name = "DIR", env = "GANTRY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// The forge `pull` fetches `OWNER/REPO` from (`file:///dir` for a folder of bare
    /// repositories named `OWNER/REPO` or `OWNER/REPO.git`).
    #[arg(
        long,
        value_name = "URL",
        env = "GANTRY_ACTIONS_FORGE",
        default_value = gantry_actions::DEFAULT_FORGE,
        global = true
    )]
    pub forge: String,

    #[command(subcommand)]
    pub command: ActionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// Add `OWNER/REPO@REF` from PATH: a git repository (REF is resolved in it as GitHub
    /// resolves it: a full SHA, `refs/...`, else a tag before a branch), a directory (taken as
    /// it is), or a `.tar`/`.tar.gz` (GitHub's tarballs; a single top folder is dropped).
    Add {
        /// `OWNER/REPO@REF`.
        action: String,
        /// The directory, git repository or tarball.
        path: PathBuf,
    },
    /// Fetch `OWNER/REPO@REF` from the forge with git (needs the network unless `--forge` is
    /// local).
    Pull {
        /// `OWNER/REPO@REF` (repeatable).
        #[arg(required = true)]
        actions: Vec<String>,
    },
    /// List every stored action: name, commit, source.
    List,
    /// Remove `OWNER/REPO@REF` (its files too, unless another ref names the same commit).
    Rm {
        /// `OWNER/REPO@REF`.
        action: String,
    },
    /// Import act's action cache (default: `$XDG_CACHE_HOME/act`, else `~/.cache/act`).
    ImportAct {
        /// act's cache folder.
        dir: Option<PathBuf>,
    },
}
