//! `node-version` specs as setup-node reads them, and the choice among the Node.js versions a
//! job has offline.
//!
//! Ranges follow node-semver (`20`, `20.x`, `>=18 <21`, `^20`, `18 || 20`, `1.2 - 2.3`) and are
//! translated to the `semver` crate's comparators. Without the network there is no release
//! manifest, so aliases are decided by rule: `latest`/`current`/`node` is the newest version
//! available; `lts/*` the newest with an even major (every even line becomes LTS);
//! `lts/<codename>` the line of that codename; `lts/-n` the line `2n` below the newest known LTS
//! line (the newer of [`NEWEST_KNOWN_LTS`] and the newest even major available).

use semver::{Version, VersionReq};

/// The newest LTS line this table knows by name.
const NEWEST_KNOWN_LTS: u64 = 24;

const LTS_CODENAMES: [(&str, u64); 11] = [
    ("argon", 4),
    ("boron", 6),
    ("carbon", 8),
    ("dubnium", 10),
    ("erbium", 12),
    ("fermium", 14),
    ("gallium", 16),
    ("hydrogen", 18),
    ("iron", 20),
    ("jod", 22),
    ("krypton", 24),
];

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("node-version '{spec}' is not a version, range or alias: {reason}")]
    Invalid {
        spec: String,
        #[source]
        reason: RangeError,
    },
    #[error("node-version '{0}' names an LTS line gantry does not know")]
    UnknownLts(String),
}

/// Why one `||` alternative of a node-semver range is not one.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    #[error("'{0}' is not a number")]
    NotANumber(String),
    #[error("{0}")]
    Semver(semver::Error),
}

/// A parsed `node-version`.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// `latest`, `current`, `node`.
    Latest,
    /// `lts/*`.
    NewestLts,
    /// `lts/-n`.
    LtsBack(u64),
    /// `lts/<codename>`: the major of that line.
    LtsLine(u64),
    /// node-semver alternatives (`a || b`), any of which may match.
    Range(Vec<VersionReq>),
}

impl Spec {
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let spec = text.trim();
        let lower = spec.to_ascii_lowercase();
        match lower.as_str() {
            "latest" | "current" | "node" => return Ok(Self::Latest),
            "lts/*" => return Ok(Self::NewestLts),
            _ => {}
        }
        if let Some(alias) = lower.strip_prefix("lts/") {
            return parse_lts(spec, alias);
        }
        let invalid = |reason: RangeError| SpecError::Invalid {
            spec: spec.to_owned(),
            reason,
        };
        spec.split("||")
            .map(|alternative| to_requirement(alternative).map_err(invalid))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Range)
    }

    fn matches(&self, version: &Version, newest_lts: u64) -> bool {
        let even = version.major.is_multiple_of(2) && version.pre.is_empty();
        match self {
            Self::Latest => version.pre.is_empty(),
            Self::NewestLts => even,
            Self::LtsBack(n) => version.major + 2 * n == newest_lts && even,
            Self::LtsLine(major) => version.major == *major && even,
            Self::Range(alternatives) => alternatives.iter().any(|r| r.matches(version)),
        }
    }

    /// The major version the spec aims at, for choosing the closest version when none matches.
    fn target_major(&self, newest_lts: u64) -> Option<u64> {
        match self {
            Self::Latest | Self::NewestLts => None,
            Self::LtsBack(n) => Some(newest_lts.saturating_sub(2 * n)),
            Self::LtsLine(major) => Some(*major),
            Self::Range(alternatives) => alternatives
                .iter()
                .flat_map(|r| r.comparators.iter().map(|c| c.major))
                .min(),
        }
    }
}

fn parse_lts(spec: &str, alias: &str) -> Result<Spec, SpecError> {
    if let Some(back) = alias.strip_prefix('-') {
        return back
            .parse()
            .map(Spec::LtsBack)
            .map_err(|_| SpecError::UnknownLts(spec.to_owned()));
    }
    LTS_CODENAMES
        .iter()
        .find(|(name, _)| *name == alias)
        .map(|(_, major)| Spec::LtsLine(*major))
        .ok_or_else(|| SpecError::UnknownLts(spec.to_owned()))
}

/// One node-semver alternative (space-separated comparators, or a hyphen range) as a
/// `semver::VersionReq`.
fn to_requirement(alternative: &str) -> Result<VersionReq, RangeError> {
    let tokens = join_operators(alternative.split_whitespace());
    let comparators: Vec<String> = match tokens.as_slice() {
        [] => vec!["*".to_owned()],
        [low, dash, high] if dash == "-" => vec![comparator(">=", low)?, comparator("<=", high)?],
        _ => tokens
            .iter()
            .map(|token| {
                let (op, version) = split_operator(token);
                comparator(op, version)
            })
            .collect::<Result<_, _>>()?,
    };
    VersionReq::parse(&comparators.join(", ")).map_err(RangeError::Semver)
}

/// Glues a lone operator to the version after it (`>= 18` is `>=18` in node-semver).
fn join_operators<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut joined: Vec<String> = Vec::new();
    let mut pending = String::new();
    for token in tokens {
        if matches!(token, ">" | ">=" | "<" | "<=" | "=" | "~" | "^") {
            pending.push_str(token);
            continue;
        }
        joined.push(format!("{pending}{token}"));
        pending.clear();
    }
    if !pending.is_empty() {
        joined.push(pending);
    }
    joined
}

fn split_operator(token: &str) -> (&str, &str) {
    let end = token
        .find(|c: char| !matches!(c, '>' | '<' | '=' | '~' | '^'))
        .unwrap_or(token.len());
    (&token[..end], &token[end..])
}

/// One comparator in the `semver` crate's syntax. Wildcard parts are dropped (`20.x` is
/// `=20`), and a bare version is exact in node-semver, which `=` says for the crate (`=20`
/// allows any 20.x, `=20.1.0` only that version).
fn comparator(op: &str, version: &str) -> Result<String, RangeError> {
    let version = version
        .trim_start_matches(['v', 'V'])
        .trim_start_matches('=');
    let (core, pre) = version
        .split_once('-')
        .map_or((version, None), |(c, p)| (c, Some(p)));
    let parts: Vec<&str> = core
        .split('.')
        .take_while(|p| !matches!(*p, "x" | "X" | "*" | ""))
        .collect();
    if let Some(bad) = parts.iter().find(|p| p.parse::<u64>().is_err()) {
        return Err(RangeError::NotANumber((*bad).to_owned()));
    }
    if parts.is_empty() {
        return Ok("*".to_owned());
    }
    let op = if op.is_empty() { "=" } else { op };
    let mut text = format!("{op}{}", parts.join("."));
    if let (Some(pre), 3) = (pre, parts.len()) {
        text.push('-');
        text.push_str(pre);
    }
    Ok(text)
}

/// Which of `available` to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The highest version satisfying the spec.
    Satisfying(usize),
    /// Nothing satisfies: the closest by major version (preferring newer, then the highest).
    Closest(usize),
}

impl Choice {
    pub fn index(self) -> usize {
        match self {
            Self::Satisfying(i) | Self::Closest(i) => i,
        }
    }
}

/// Chooses among `available` (indexes into it); `None` only when it is empty.
pub fn choose(spec: &Spec, available: &[Version]) -> Option<Choice> {
    let newest_lts = available
        .iter()
        .filter(|v| v.major.is_multiple_of(2))
        .map(|v| v.major)
        .max()
        .map_or(NEWEST_KNOWN_LTS, |m| m.max(NEWEST_KNOWN_LTS));
    let highest = |filter: &dyn Fn(&Version) -> bool| {
        (0..available.len())
            .filter(|i| filter(&available[*i]))
            .max_by(|a, b| available[*a].cmp(&available[*b]))
    };
    if let Some(i) = highest(&|v| spec.matches(v, newest_lts)) {
        return Some(Choice::Satisfying(i));
    }
    let closest = match spec.target_major(newest_lts) {
        Some(target) => {
            let distance = |v: &Version| v.major.abs_diff(target);
            let best = available.iter().map(distance).min()?;
            let nearest_newest = available
                .iter()
                .filter(|v| distance(v) == best)
                .map(|v| v.major)
                .max()?;
            highest(&|v| v.major == nearest_newest)
        }
        None => highest(&|_| true),
    };
    closest.map(Choice::Closest)
}

/// The version `node --version` printed (`v20.11.1`).
pub fn parse_node_output(text: &str) -> Option<Version> {
    Version::parse(text.trim().trim_start_matches('v')).ok()
}

/// The version a version file names, as setup-node reads them: `package.json` (`volta.node`,
/// then `engines.node`), else the first line of `.nvmrc` / `.node-version` / `.tool-versions`
/// that is a version (optionally after `node` or `nodejs`).
pub fn from_version_file(contents: &str) -> Option<String> {
    if let Ok(serde_json::Value::Object(manifest)) = serde_json::from_str(contents) {
        let field = |outer: &str| {
            manifest
                .get(outer)?
                .get("node")?
                .as_str()
                .map(str::to_owned)
        };
        return field("volta").or_else(|| field("engines"));
    }
    contents.lines().find_map(version_line)
}

fn version_line(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let version = match (first, words.next(), words.next()) {
        (_, None, _) => first,
        ("node" | "nodejs", Some(version), None) => version,
        _ => return None,
    };
    Some(version.trim_start_matches('v').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(list: &[&str]) -> Vec<Version> {
        list.iter().map(|v| Version::parse(v).unwrap()).collect()
    }

    /// (spec, available, expected version, whether it satisfies)
    const CASES: &[(&str, &[&str], &str, bool)] = &[
        (
            "20",
            &["18.19.0", "20.11.1", "20.9.0", "22.3.0"],
            "20.11.1",
            true,
        ),
        (
            "20.x",
            &["18.19.0", "20.11.1", "20.9.0", "22.3.0"],
            "20.11.1",
            true,
        ),
        ("v20", &["20.9.0"], "20.9.0", true),
        ("20.9", &["20.9.0", "20.9.4", "20.10.0"], "20.9.4", true),
        ("20.9.0", &["20.9.0", "20.9.4"], "20.9.0", true),
        (
            ">=18 <21",
            &["16.0.0", "18.19.0", "20.11.1", "22.3.0"],
            "20.11.1",
            true,
        ),
        (">= 18 < 21", &["18.19.0", "22.3.0"], "18.19.0", true),
        ("^20", &["20.11.1", "21.0.0"], "20.11.1", true),
        ("~20.9", &["20.9.4", "20.10.0"], "20.9.4", true),
        (
            "18 || 22",
            &["18.19.0", "20.11.1", "22.3.0"],
            "22.3.0",
            true,
        ),
        (
            "16 - 18",
            &["16.1.0", "18.19.0", "20.11.1"],
            "18.19.0",
            true,
        ),
        ("*", &["18.19.0", "20.11.1"], "20.11.1", true),
        ("latest", &["18.19.0", "23.1.0"], "23.1.0", true),
        ("current", &["18.19.0", "23.1.0"], "23.1.0", true),
        ("node", &["18.19.0", "23.1.0"], "23.1.0", true),
        ("lts/*", &["18.19.0", "20.11.1", "23.1.0"], "20.11.1", true),
        (
            "lts/iron",
            &["18.19.0", "20.11.1", "22.3.0"],
            "20.11.1",
            true,
        ),
        ("lts/Hydrogen", &["18.19.0", "20.11.1"], "18.19.0", true),
        ("lts/-1", &["18.19.0", "22.3.0", "24.1.0"], "22.3.0", true),
        // Nothing satisfies: the closest major, newer first, then its highest version.
        ("24", &["18.19.0", "20.11.1", "20.9.0"], "20.11.1", false),
        ("19", &["18.19.0", "20.11.1"], "20.11.1", false),
        ("16", &["18.19.0", "20.11.1"], "18.19.0", false),
        ("lts/*", &["19.1.0", "21.0.0"], "21.0.0", false),
        ("lts/jod", &["18.19.0"], "18.19.0", false),
    ];

    #[test]
    fn specs_choose_as_setup_node_would() {
        for (spec, available, expected, satisfies) in CASES {
            let parsed = Spec::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            let available = versions(available);
            let choice = choose(&parsed, &available).unwrap_or_else(|| panic!("{spec}: no choice"));
            assert_eq!(available[choice.index()].to_string(), *expected, "{spec}");
            assert_eq!(
                matches!(choice, Choice::Satisfying(_)),
                *satisfies,
                "{spec}"
            );
        }
    }

    #[test]
    fn nothing_to_choose_from() {
        assert_eq!(choose(&Spec::Latest, &[]), None);
    }

    #[test]
    fn invalid_specs_are_reported() {
        let cases = [
            (
                "twenty",
                "node-version 'twenty' is not a version, range or alias: 'twenty' is not a number",
            ),
            (
                "lts/banana",
                "node-version 'lts/banana' names an LTS line gantry does not know",
            ),
            (
                "lts/-x",
                "node-version 'lts/-x' names an LTS line gantry does not know",
            ),
        ];
        for (spec, message) in cases {
            assert_eq!(
                Spec::parse(spec).unwrap_err().to_string(),
                message,
                "{spec}"
            );
        }
    }

    #[test]
    fn version_files_are_read_like_setup_node() {
        let cases = [
            ("20.11.1\n", Some("20.11.1")),
            ("v18\n", Some("18")),
            ("# comment\n\nlts/iron\n", Some("lts/iron")),
            ("python 3.12.0\nnodejs 20.1.0\n", Some("20.1.0")),
            ("node 22\n", Some("22")),
            (r#"{"engines": {"node": ">=18"}}"#, Some(">=18")),
            (
                r#"{"volta": {"node": "20.10.0"}, "engines": {"node": ">=18"}}"#,
                Some("20.10.0"),
            ),
            (r#"{"name": "x"}"#, None),
            ("", None),
        ];
        for (contents, expected) in cases {
            assert_eq!(
                from_version_file(contents).as_deref(),
                expected,
                "{contents:?}"
            );
        }
    }

    #[test]
    fn node_output_parses() {
        assert_eq!(
            parse_node_output("v18.19.0\n"),
            Some(Version::new(18, 19, 0))
        );
        assert_eq!(parse_node_output("garbage"), None);
    }
}
