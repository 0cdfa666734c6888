//! `actions/setup-node` offline: chooses among the Node.js versions the job already has (the
//! tool cache and the `node` on `PATH`), never downloads, and writes the `.npmrc` setup-node
//! writes for `registry-url`, optionally pointing GitHub Packages at gantry's own registry.

use async_trait::async_trait;
use indexmap::IndexMap;
use semver::Version;

use super::node_version::{self, Choice, Spec};
use super::{BuiltinError, add_path, bool_input, export_variable, input, npmrc, run_sh, warn};
use crate::actions::{ActionCall, ActionError, BuiltinAction};

/// The step-environment variable naming gantry's npm registry, used when the action was not
/// built with [`SetupNode::with_registry`].
pub const REGISTRY_ENV: &str = "GANTRY_NPM_REGISTRY";

/// Prints `<origin> <node --version> <path>` for each node the job has: every
/// `$1/node/*/x64/bin/node`, then the one `PATH` finds.
const CANDIDATES_SCRIPT: &str = r#"for n in "$1"/node/*/x64/bin/node; do
  if [ -x "$n" ] && v=$("$n" --version 2>/dev/null); then printf 'cache %s %s\n' "$v" "$n"; fi
done
if n=$(command -v node 2>/dev/null) && v=$("$n" --version 2>/dev/null); then printf 'path %s %s\n' "$v" "$n"; fi
exit 0
"#;

/// `actions/setup-node`.
#[derive(Debug, Default, Clone)]
pub struct SetupNode {
    registry: Option<String>,
}

impl SetupNode {
    /// Takes gantry's registry from the step environment's [`REGISTRY_ENV`], if any.
    pub fn new() -> Self {
        Self::default()
    }

    /// `registry-url: https://npm.pkg.github.com/` is written as `url` instead (gantry's
    /// embedded registry as the job reaches it).
    pub fn with_registry(url: impl Into<String>) -> Self {
        Self {
            registry: Some(url.into()),
        }
    }
}

/// A node the job can run.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    version: Version,
    /// The `node` binary, as steps see it.
    path: String,
    /// Found on `PATH` (rather than only in the tool cache).
    from_path: bool,
}

impl Candidate {
    fn bin_dir(&self) -> &str {
        self.path.rsplit_once('/').map_or(".", |(dir, _)| dir)
    }
}

#[async_trait]
impl BuiltinAction for SetupNode {
    async fn run(&self, call: ActionCall<'_>) -> Result<IndexMap<String, String>, ActionError> {
        Ok(self.setup(&call).await?)
    }
}

impl SetupNode {
    async fn setup(&self, call: &ActionCall<'_>) -> Result<IndexMap<String, String>, BuiltinError> {
        if bool_input(call, "check-latest", false)? {
            call.log("check-latest is ignored: gantry never downloads Node.js")
                .await;
        }
        let mut outputs = IndexMap::new();
        if let Some(spec) = requested_version(call).await? {
            let chosen = choose_node(call, &spec).await?;
            outputs.insert("node-version".to_owned(), format!("v{}", chosen.version));
        } else if let Some(node) = path_node(call).await? {
            call.log(&format!(
                "No node-version given: using {} (v{})",
                node.path, node.version
            ))
            .await;
            outputs.insert("node-version".to_owned(), format!("v{}", node.version));
        }
        let registry_url = input(call, "registry-url");
        if !registry_url.is_empty() {
            self.configure_registry(call, registry_url).await?;
        }
        if !input(call, "cache").is_empty() {
            let cache = input(call, "cache");
            warn(call, &format!("cache: {cache} is not supported offline; dependencies are not cached between runs")).await;
        }
        Ok(outputs)
    }

    async fn configure_registry(
        &self,
        call: &ActionCall<'_>,
        requested: &str,
    ) -> Result<(), BuiltinError> {
        let mapped = self
            .registry
            .clone()
            .or_else(|| call.env.get(REGISTRY_ENV).cloned())
            .filter(|url| !url.trim().is_empty() && npmrc::is_github_packages(requested));
        let url = match &mapped {
            Some(url) => {
                call.log(&format!(
                    "registry-url {requested} is served offline by gantry's registry at {url}"
                ))
                .await;
                url.trim()
            }
            None => requested,
        };
        let owner = call
            .env
            .get("GITHUB_REPOSITORY_OWNER")
            .map_or("", String::as_str);
        let scope = npmrc::scope(input(call, "scope"), requested, owner);
        let temp = call
            .env
            .get("RUNNER_TEMP")
            .cloned()
            .unwrap_or_else(|| call.job.paths().temp.clone());
        let file = format!("{}/.npmrc", temp.trim_end_matches('/'));
        let existing = call.job.read_file(&file).await?;
        let existing = existing.as_deref().map(String::from_utf8_lossy);
        let always_auth = match input(call, "always-auth") {
            "" => "false",
            given => given,
        };
        let contents = npmrc::render(existing.as_deref(), url, scope.as_deref(), always_auth);
        call.job.write_file(&file, contents.as_bytes()).await?;
        export_variable(call, "NPM_CONFIG_USERCONFIG", &file).await?;
        let token = call
            .env
            .get("NODE_AUTH_TOKEN")
            .filter(|t| !t.is_empty())
            .map_or(npmrc::PLACEHOLDER_TOKEN, String::as_str);
        export_variable(call, "NODE_AUTH_TOKEN", token).await
    }
}

/// `node-version`, else the version `node-version-file` names; `None` when neither is given.
async fn requested_version(call: &ActionCall<'_>) -> Result<Option<Spec>, BuiltinError> {
    let (version, file) = (
        input(call, "node-version"),
        input(call, "node-version-file"),
    );
    if !version.is_empty() {
        if !file.is_empty() {
            warn(call, "Both node-version and node-version-file inputs are specified, only node-version will be used").await;
        }
        return Ok(Some(Spec::parse(version)?));
    }
    if file.is_empty() {
        return Ok(None);
    }
    let path = format!(
        "{}/{}",
        call.workspace.trim_end_matches('/'),
        file.trim_start_matches("./")
    );
    let contents = call
        .job
        .read_file(&path)
        .await?
        .ok_or_else(|| BuiltinError::MissingVersionFile(file.to_owned()))?;
    let version = node_version::from_version_file(&String::from_utf8_lossy(&contents))
        .ok_or_else(|| BuiltinError::EmptyVersionFile(file.to_owned()))?;
    call.log(&format!("Resolved {file} as {version}")).await;
    Ok(Some(Spec::parse(&version)?))
}

/// Picks the node to use, warns when it does not satisfy the request, and puts it on `PATH`.
async fn choose_node(call: &ActionCall<'_>, spec: &Spec) -> Result<Candidate, BuiltinError> {
    let tool_cache = tool_cache(call);
    let candidates = candidates(call, &tool_cache).await?;
    let versions: Vec<Version> = candidates.iter().map(|c| c.version.clone()).collect();
    let choice =
        node_version::choose(spec, &versions).ok_or(BuiltinError::NoNode { tool_cache })?;
    let chosen = candidates[choice.index()].clone();
    let requested = requested_text(call);
    match choice {
        Choice::Satisfying(_) => {
            call.log(&format!(
                "Found Node.js v{} at {} for node-version '{requested}'",
                chosen.version, chosen.path
            ))
            .await;
        }
        Choice::Closest(_) => {
            let available: Vec<String> = versions.iter().map(|v| format!("v{v}")).collect();
            let message = format!(
                "node-version '{requested}' was requested, but no Node.js satisfying it is available offline (found {}); using v{} from {} instead",
                available.join(", "),
                chosen.version,
                chosen.path
            );
            warn(call, &message).await;
        }
    }
    let on_path = call
        .env
        .get("PATH")
        .is_some_and(|p| p.split(':').any(|d| d == chosen.bin_dir()));
    if !on_path {
        add_path(call, chosen.bin_dir()).await?;
    }
    Ok(chosen)
}

fn requested_text(call: &ActionCall<'_>) -> String {
    match input(call, "node-version") {
        "" => input(call, "node-version-file").to_owned(),
        version => version.to_owned(),
    }
}

fn tool_cache(call: &ActionCall<'_>) -> String {
    call.env
        .get("RUNNER_TOOL_CACHE")
        .cloned()
        .unwrap_or_else(|| call.job.paths().tool_cache.clone())
}

/// Every node the job has, asked with one `exec`.
async fn candidates(
    call: &ActionCall<'_>,
    tool_cache: &str,
) -> Result<Vec<Candidate>, BuiltinError> {
    let output = run_sh(
        call,
        "looking for Node.js",
        CANDIDATES_SCRIPT,
        &[tool_cache],
    )
    .await?;
    Ok(parse_candidates(&output))
}

/// The `node` on `PATH`, if any.
async fn path_node(call: &ActionCall<'_>) -> Result<Option<Candidate>, BuiltinError> {
    let output = run_sh(
        call,
        "looking for Node.js",
        CANDIDATES_SCRIPT,
        &[&tool_cache(call)],
    )
    .await?;
    Ok(parse_candidates(&output).into_iter().find(|c| c.from_path))
}

/// Lines of [`CANDIDATES_SCRIPT`]'s output, without duplicates (the `PATH` node may live in
/// the tool cache) and without nodes whose version does not parse.
fn parse_candidates(output: &str) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = Vec::new();
    for line in output.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(origin), Some(version), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(version) = node_version::parse_node_output(version) else {
            continue;
        };
        let from_path = origin == "path";
        match candidates.iter_mut().find(|c| c.path == path) {
            Some(known) => known.from_path |= from_path,
            None => candidates.push(Candidate {
                version,
                path: path.to_owned(),
                from_path,
            }),
        }
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_lines_parse_and_deduplicate() {
        let output = "cache v20.11.1 /t/node/20.11.1/x64/bin/node\ncache bogus /t/node/x/x64/bin/node\npath v18.19.0 /usr/bin/node\npath v20.11.1 /t/node/20.11.1/x64/bin/node\n";
        let got = parse_candidates(output);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].version, Version::new(20, 11, 1));
        assert_eq!(got[0].bin_dir(), "/t/node/20.11.1/x64/bin");
        assert_eq!(got[1].path, "/usr/bin/node");
        assert!(got[0].from_path && got[1].from_path);
    }
}
