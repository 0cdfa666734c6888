//! Name grammars: OCI repositories and tags, npm package names, owners.
//!
//! Every name reaches storage or SQL only after passing one of these, which is also what keeps
//! `..`, `%2e%2e` and friends out.

/// Longest repository name the distribution registry accepts.
const MAX_REPO_LEN: usize = 255;
/// npm's limit on a package name, scope included.
const MAX_NPM_LEN: usize = 214;

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255 chars.
pub(crate) fn valid_repository(name: &str) -> bool {
    name.len() <= MAX_REPO_LEN && name.split('/').all(valid_repo_component)
}

fn valid_repo_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Separators: one '.', one or two '_', or any run of '-'; never mixed, always between alnums.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub(crate) fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    bytes.len() <= 128
        && (first.is_ascii_alphanumeric() || first == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A GitHub login or organisation: alphanumerics and single inner hyphens, at most 39 chars.
/// Compared lowercase, as GitHub Packages lowercases namespaces.
pub(crate) fn valid_owner(owner: &str) -> bool {
    let b = owner.as_bytes();
    !b.is_empty()
        && b.len() <= 39
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The owner namespace of an OCI repository: its first path component.
pub(crate) fn repository_owner(repo: &str) -> Option<&str> {
    repo.split_once('/').map(|(owner, _)| owner)
}

/// npm package names: optional `@scope/`, lowercase URL-safe characters, no leading `.`/`_`.
pub(crate) fn valid_npm_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_NPM_LEN {
        return false;
    }
    match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((scope, pkg)) => valid_npm_part(scope) && valid_npm_part(pkg),
            None => false,
        },
        None => valid_npm_part(name),
    }
}

fn valid_npm_part(part: &str) -> bool {
    let b = part.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    first != b'.'
        && first != b'_'
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-._~".contains(&c))
}

/// The scope of a scoped npm name, without `@`.
pub(crate) fn npm_scope(name: &str) -> Option<&str> {
    name.strip_prefix('@')
        .and_then(|rest| rest.split_once('/'))
        .map(|(scope, _)| scope)
}

/// The part of an npm name after the scope: what tarball file names start with.
pub(crate) fn npm_basename(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, base)| base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        for ok in ["a", "owner/img", "a.b/c_d/e__f/g--h", "0/1"] {
            assert!(valid_repository(ok), "{ok}");
        }
        for bad in [
            "",
            "A/b",
            "owner/../x",
            "owner//x",
            "-a",
            "a-",
            "a._b",
            "a___b",
            "/a",
            "a/",
            "..",
            "a/%2e%2e",
        ] {
            assert!(!valid_repository(bad), "{bad}");
        }
        assert!(!valid_repository(&"a".repeat(256)));
    }

    #[test]
    fn tags_and_owners() {
        assert!(valid_tag("latest") && valid_tag("_x") && valid_tag("v1.2.3-rc_1"));
        assert!(
            !valid_tag("") && !valid_tag(".x") && !valid_tag("a/b") && !valid_tag(&"a".repeat(129))
        );
        assert!(
            valid_owner("octo-cat")
                && !valid_owner("-x")
                && !valid_owner("a_b")
                && !valid_owner("")
        );
    }

    #[test]
    fn npm_names() {
        for ok in ["@octo/pkg", "pkg", "@a/b.c-d_e~f"] {
            assert!(valid_npm_name(ok), "{ok}");
        }
        for bad in [
            "@octo",
            "@octo/",
            "@/x",
            "Pkg",
            "../x",
            "@octo/../x",
            ".x",
            "_x",
            "@o/p/q",
            "a b",
        ] {
            assert!(!valid_npm_name(bad), "{bad}");
        }
        assert_eq!(npm_scope("@octo/pkg"), Some("octo"));
        assert_eq!(npm_basename("@octo/pkg"), "pkg");
    }
}

/// Arbitrary bytes as names and references: a verdict, never a panic, and nothing accepted
/// that could escape a path or a namespace.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::digest::Digest;
    use proptest::prelude::*;

    /// Pieces that steer random input towards names that nearly pass.
    fn nameish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-z0-9]{1,6}",
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("_".to_owned()),
            Just("__".to_owned()),
            Just("-".to_owned()),
            Just("@".to_owned()),
            Just("%2e".to_owned()),
            Just("~".to_owned()),
            Just("sha256:".to_owned()),
            "[0-9a-f]{64}",
            "\\PC{0,3}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    fn lossy(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// What no accepted name may hold: a `.`/`..`/empty path component (a way out of its
    /// directory), or a character with a second meaning in SQL or a URL. (`v1..2` is a fine
    /// tag: `..` inside a component names no directory.)
    fn safe(name: &str) -> bool {
        name.split('/').all(|part| !matches!(part, "" | "." | ".."))
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"%\\'\"<>?#".contains(&b))
    }

    fn check(name: &str) -> Result<(), TestCaseError> {
        if valid_repository(name) {
            prop_assert!(safe(name) && name.len() <= MAX_REPO_LEN, "{name:?}");
            if let Some(owner) = repository_owner(name) {
                prop_assert!(name.starts_with(owner));
            }
        }
        if valid_tag(name) {
            prop_assert!(
                safe(name) && !name.contains('/') && name.len() <= 128,
                "{name:?}"
            );
        }
        if valid_owner(name) {
            prop_assert!(
                safe(name) && !name.contains('/') && name.len() <= 39,
                "{name:?}"
            );
        }
        if valid_npm_name(name) {
            prop_assert!(safe(name) && name.len() <= MAX_NPM_LEN, "{name:?}");
            let base = npm_basename(name);
            prop_assert!(!base.is_empty() && !base.starts_with('.'), "{name:?}");
            if let Some(scope) = npm_scope(name) {
                prop_assert!(!scope.is_empty() && !scope.contains('/'), "{name:?}");
            }
        }
        if let Ok(digest) = Digest::parse(name) {
            prop_assert_eq!(digest.hex().len(), 64);
            prop_assert!(safe(digest.hex()));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_pass_unsafely(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            check(&lossy(&bytes))?;
        }

        #[test]
        fn name_shaped_text_never_passes_unsafely(name in nameish()) {
            check(&name)?;
        }
    }
}
