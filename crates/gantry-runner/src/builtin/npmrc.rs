//! The `.npmrc` setup-node writes for `registry-url` (its `authutil.ts`, v4 behaviour).

/// GitHub Packages' npm registry, which gantry can map to its own registry.
pub const GITHUB_PACKAGES_HOST: &str = "npm.pkg.github.com";

/// The token setup-node exports when none is set, so npm does not fail on an unset variable.
pub const PLACEHOLDER_TOKEN: &str = "XXXXX-XXXXX-XXXXX-XXXXX";

/// The scope setup-node uses: the `scope` input, else the repository owner for GitHub
/// Packages; `@`-prefixed and lower-cased.
pub fn scope(scope_input: &str, registry_url: &str, owner: &str) -> Option<String> {
    let scope = match scope_input.trim() {
        "" if registry_url.contains(GITHUB_PACKAGES_HOST) => owner,
        "" => return None,
        given => given,
    };
    if scope.is_empty() {
        return None;
    }
    let scope = if scope.starts_with('@') {
        scope.to_owned()
    } else {
        format!("@{scope}")
    };
    Some(scope.to_lowercase())
}

/// The new `.npmrc`: the lines of `existing` except one setting the same scope's registry, then
/// the auth line, the registry line and `always-auth` (no final newline, as setup-node).
pub fn render(
    existing: Option<&str>,
    registry_url: &str,
    scope: Option<&str>,
    always_auth: &str,
) -> String {
    let registry_url = with_trailing_slash(registry_url);
    let prefix = scope.map_or(String::new(), |s| format!("{s}:"));
    let replaced = format!("{prefix}registry");
    let mut contents = String::new();
    for line in existing.into_iter().flat_map(|text| text.split('\n')) {
        if !line.to_lowercase().starts_with(&replaced) {
            contents.push_str(line);
            contents.push('\n');
        }
    }
    let auth = format!(
        "{}:_authToken=${{NODE_AUTH_TOKEN}}",
        strip_scheme(&registry_url)
    );
    contents.push_str(&format!(
        "{auth}\n{prefix}registry={registry_url}\nalways-auth={always_auth}"
    ));
    contents
}

pub fn with_trailing_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

/// `https://host/path/` → `//host/path/` (setup-node removes a leading `word:`).
fn strip_scheme(url: &str) -> &str {
    match url.split_once(':') {
        Some((scheme, rest))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_alphanumeric() || c == '_') =>
        {
            rest
        }
        _ => url,
    }
}

/// Whether `url` is GitHub Packages' npm registry (what gantry maps to its own registry).
pub fn is_github_packages(url: &str) -> bool {
    let rest = url.trim().strip_prefix("https://").unwrap_or(url.trim());
    rest.trim_end_matches('/')
        .eq_ignore_ascii_case(GITHUB_PACKAGES_HOST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_packages_scope_is_the_lower_cased_owner() {
        let url = "https://npm.pkg.github.com";
        let scope = scope("", url, "Octo-Org");
        assert_eq!(scope.as_deref(), Some("@octo-org"));
        let text = render(None, url, scope.as_deref(), "false");
        assert_eq!(
            text,
            "//npm.pkg.github.com/:_authToken=${NODE_AUTH_TOKEN}\n@octo-org:registry=https://npm.pkg.github.com/\nalways-auth=false"
        );
    }

    #[test]
    fn custom_scope_on_a_mapped_registry() {
        let scope = scope("MyScope", "https://npm.pkg.github.com/", "octo");
        let text = render(None, "http://127.0.0.1:4873/npm", scope.as_deref(), "true");
        assert_eq!(
            text,
            "//127.0.0.1:4873/npm/:_authToken=${NODE_AUTH_TOKEN}\n@myscope:registry=http://127.0.0.1:4873/npm/\nalways-auth=true"
        );
    }

    #[test]
    fn other_registries_have_no_scope() {
        assert_eq!(scope("", "https://registry.npmjs.org/", "octo"), None);
        let text = render(None, "https://registry.npmjs.org", None, "false");
        assert_eq!(
            text,
            "//registry.npmjs.org/:_authToken=${NODE_AUTH_TOKEN}\nregistry=https://registry.npmjs.org/\nalways-auth=false"
        );
    }

    #[test]
    fn an_existing_file_keeps_all_but_the_replaced_registry() {
        let existing = "//npm.pkg.github.com/:_authToken=${NODE_AUTH_TOKEN}\n@octo:registry=https://old/\nalways-auth=false";
        let text = render(
            Some(existing),
            "https://npm.pkg.github.com/",
            Some("@octo"),
            "false",
        );
        assert_eq!(
            text,
            "//npm.pkg.github.com/:_authToken=${NODE_AUTH_TOKEN}\nalways-auth=false\n//npm.pkg.github.com/:_authToken=${NODE_AUTH_TOKEN}\n@octo:registry=https://npm.pkg.github.com/\nalways-auth=false"
        );
    }

    #[test]
    fn github_packages_urls_are_recognised() {
        for url in [
            "https://npm.pkg.github.com/",
            "https://npm.pkg.github.com",
            "https://NPM.pkg.github.com/",
        ] {
            assert!(is_github_packages(url), "{url}");
        }
        for url in [
            "https://registry.npmjs.org/",
            "https://npm.pkg.github.com/other/",
        ] {
            assert!(!is_github_packages(url), "{url}");
        }
    }
}
