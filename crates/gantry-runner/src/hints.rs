//! Hints gantry adds to a failed step when it knows more than the tool's own error says.
//!
//! GitHub shows only the tool's output; gantry has seen what setup-node configured and can read
//! the job's files, so a failure whose cause is a well-known mismatch gets an annotation naming
//! the cause and the fix. A hint never changes a step's result.

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::executor::JobEnvironment;

/// What a step's output said that a hint may explain; collected line by line while it runs.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct OutputClues {
    /// npm failed with `ENEEDAUTH`, and the registry it wanted a login for, when it said.
    pub npm_need_auth: Option<Option<String>>,
}

impl OutputClues {
    /// Looks at one line of step output (already split, masked or not: only npm's own
    /// fixed texts are matched).
    pub fn observe(&mut self, line: &str) {
        if line.contains("ENEEDAUTH") {
            self.npm_need_auth.get_or_insert(None);
        }
        // npm 7+: "npm error need auth This command requires you to be logged in to URL".
        if let Some((_, rest)) = line.split_once("requires you to be logged in to ") {
            let url = rest.split_whitespace().next().unwrap_or("").to_owned();
            if !url.is_empty() {
                self.npm_need_auth = Some(Some(url));
            }
        }
    }
}

/// The public npm registry, where npm sends a package no `.npmrc` scope line claims.
const NPMJS: &str = "registry.npmjs.org";

/// A scope line of an `.npmrc`: `@scope:registry=URL`.
#[derive(Debug, Clone, PartialEq)]
struct ScopedRegistry {
    scope: String,
    url: String,
}

fn scoped_registries(npmrc: &str) -> Vec<ScopedRegistry> {
    npmrc
        .lines()
        .filter_map(|line| {
            let (key, url) = line.trim().split_once('=')?;
            let scope = key.trim().strip_suffix(":registry")?;
            scope.starts_with('@').then(|| ScopedRegistry {
                scope: scope.to_lowercase(),
                url: url.trim().to_owned(),
            })
        })
        .collect()
}

/// The hint for `npm publish` falling back to the public registry: the package's scope is not
/// the one setup-node configured (the repository owner for GitHub Packages, or its `scope:`
/// input). `None` when the failure has another cause.
///
/// `registry` is where npm asked for a login (`None` when it did not say); `package_json` and
/// `npmrc` are the files the step used; `github_packages` is the URL gantry serves
/// `npm.pkg.github.com` at, if any.
pub(crate) fn npm_scope_hint(
    registry: Option<&str>,
    package_json: &[u8],
    npmrc: &str,
    github_packages: Option<&str>,
) -> Option<String> {
    if registry.is_some_and(|url| !url.contains(NPMJS)) {
        return None;
    }
    let manifest: Json = serde_json::from_slice(package_json).ok()?;
    let name = manifest.get("name")?.as_str()?;
    let configured = scoped_registries(npmrc);
    let first = configured.first()?;
    let package_scope = name
        .split_once('/')
        .map(|(scope, _)| scope.to_lowercase())
        .filter(|scope| scope.starts_with('@'));
    if package_scope
        .as_ref()
        .is_some_and(|scope| configured.iter().any(|c| &c.scope == scope))
    {
        return None;
    }
    let base = name.rsplit('/').next().unwrap_or(name);
    let registry_name = match github_packages {
        Some(url) if same_url(url, &first.url) => {
            "https://npm.pkg.github.com/ (served by gantry's registry)".to_owned()
        }
        _ => first.url.clone(),
    };
    let fix_scope = match &package_scope {
        Some(scope) => format!(
            ", or set setup-node's `scope: '{scope}'` if that is the namespace you publish to"
        ),
        // GitHub Packages takes scoped packages only, so an unscoped one must be renamed.
        None => String::new(),
    };
    Some(format!(
        "npm publish went to the public registry https://{NPMJS}/ and found no login there \
         (ENEEDAUTH): package.json names the package \"{name}\", but setup-node configured \
         only the scope {} for {registry_name}. Rename the package to \"{}/{base}\"{fix_scope}.",
        first.scope, first.scope,
    ))
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// What of a step's environment the hints read, taken before the step runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct HintInputs {
    /// `NPM_CONFIG_USERCONFIG`: the `.npmrc` setup-node wrote.
    npmrc: Option<String>,
    /// The step's working directory (where `package.json` is).
    workdir: String,
    /// Where gantry serves `npm.pkg.github.com`, if it does.
    github_packages: Option<String>,
}

impl HintInputs {
    pub fn from_env(env: &IndexMap<String, String>, workdir: &str) -> Self {
        HintInputs {
            npmrc: env
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("NPM_CONFIG_USERCONFIG"))
                .map(|(_, v)| v.clone()),
            workdir: workdir.to_owned(),
            github_packages: env.get(crate::builtin::setup_node::REGISTRY_ENV).cloned(),
        }
    }
}

/// Reads the files [`npm_scope_hint`] needs from the job and builds the hint. Missing files
/// (no setup-node `.npmrc`, no `package.json`) mean no hint.
pub(crate) async fn npm_scope_hint_for_step(
    job: &dyn JobEnvironment,
    registry: Option<&str>,
    inputs: &HintInputs,
) -> Option<String> {
    let npmrc = job.read_file(inputs.npmrc.as_deref()?).await.ok()??;
    let manifest = format!("{}/package.json", inputs.workdir.trim_end_matches('/'));
    let package_json = job.read_file(&manifest).await.ok()??;
    npm_scope_hint(
        registry,
        &package_json,
        &String::from_utf8_lossy(&npmrc),
        inputs.github_packages.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPMRC: &str = "//127.0.0.1:4873/:_authToken=${NODE_AUTH_TOKEN}\n\
                         @gantry-examples:registry=http://127.0.0.1:4873/\nalways-auth=false";
    const GITHUB_PACKAGES: Option<&str> = Some("http://127.0.0.1:4873");

    #[test]
    fn clues_collect_need_auth_and_its_registry() {
        let mut clues = OutputClues::default();
        clues.observe("npm notice Publishing");
        assert_eq!(clues.npm_need_auth, None);
        clues.observe("npm error code ENEEDAUTH");
        assert_eq!(clues.npm_need_auth, Some(None));
        clues.observe(
            "npm error need auth This command requires you to be logged in to https://registry.npmjs.org/",
        );
        assert_eq!(
            clues.npm_need_auth,
            Some(Some("https://registry.npmjs.org/".into()))
        );
    }

    #[test]
    fn another_scope_names_both_scopes_and_both_fixes() {
        let hint = npm_scope_hint(
            Some("https://registry.npmjs.org/"),
            br#"{"name": "@someone-else/release-package"}"#,
            NPMRC,
            GITHUB_PACKAGES,
        );
        assert_eq!(
            hint.as_deref(),
            Some(
                "npm publish went to the public registry https://registry.npmjs.org/ and found no \
                 login there (ENEEDAUTH): package.json names the package \
                 \"@someone-else/release-package\", but setup-node configured only the scope \
                 @gantry-examples for https://npm.pkg.github.com/ (served by gantry's registry). \
                 Rename the package to \"@gantry-examples/release-package\", or set setup-node's \
                 `scope: '@someone-else'` if that is the namespace you publish to."
            )
        );
    }

    #[test]
    fn an_unscoped_package_can_only_be_renamed() {
        let hint = npm_scope_hint(None, br#"{"name": "plain"}"#, NPMRC, None).unwrap();
        assert!(
            hint.ends_with("Rename the package to \"@gantry-examples/plain\"."),
            "{hint}"
        );
        assert!(hint.contains("for http://127.0.0.1:4873/."), "{hint}");
    }

    #[test]
    fn no_hint_when_the_scope_matches_or_the_registry_is_another() {
        let ours = br#"{"name": "@Gantry-Examples/x"}"#;
        assert_eq!(npm_scope_hint(None, ours, NPMRC, GITHUB_PACKAGES), None);
        let theirs = br#"{"name": "@other/x"}"#;
        assert_eq!(
            npm_scope_hint(
                Some("http://127.0.0.1:4873/"),
                theirs,
                NPMRC,
                GITHUB_PACKAGES
            ),
            None
        );
        // No scope configured at all (setup-node without registry-url): nothing to explain.
        assert_eq!(npm_scope_hint(None, theirs, "", GITHUB_PACKAGES), None);
        assert_eq!(
            npm_scope_hint(None, b"not json", NPMRC, GITHUB_PACKAGES),
            None
        );
    }
}
