//! Turning `gantry run`'s flags and files into values: secrets, variables, environment,
//! inputs, platforms and matrix filters. Every problem is collected before reporting, so one
//! run of the command names them all.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::cli::RunArgs;
use crate::engine::Platform;

use super::RunError;

/// The image `ubuntu-*` runners use unless `-P` says otherwise.
pub const DEFAULT_IMAGE: &str = "gantry/runner:bookworm";
/// GitHub's Ubuntu labels, all run on gantry's runner image (Debian bookworm with the same
/// everyday tools). 20.04 and 18.04 are retired on GitHub, yet 251 jobs of the real-world
/// corpus still ask for them: they run on the same image rather than being skipped.
const DEFAULT_LABELS: &[&str] = &[
    "ubuntu-latest",
    "ubuntu-24.04",
    "ubuntu-22.04",
    "ubuntu-20.04",
    "ubuntu-18.04",
];

#[derive(Debug, Default)]
pub struct Settings {
    pub secrets: IndexMap<String, String>,
    pub vars: IndexMap<String, String>,
    pub env: IndexMap<String, String>,
    pub inputs: IndexMap<String, String>,
    /// Lower-case label → platform, the defaults first and `-P` over them.
    pub platforms: IndexMap<String, Platform>,
    pub matrix: Vec<(String, String)>,
}

/// Reads every flag and file; `dir` is where `.secrets` and `.env` are looked for.
pub fn load(args: &RunArgs, dir: &Path) -> Result<Settings, RunError> {
    let mut problems = Vec::new();
    let mut settings = Settings::default();
    let secret_file = args
        .secret_file
        .clone()
        .or_else(|| present(dir, ".secrets"));
    if let Some(path) = secret_file {
        settings
            .secrets
            .extend(read_dotenv(&path, dir, &mut problems));
    }
    for item in &args.secret {
        match secret(item) {
            Ok((name, value)) => {
                settings.secrets.insert(name, value);
            }
            Err(p) => problems.push(p),
        }
    }
    if let Some(path) = &args.var_file {
        settings.vars.extend(read_dotenv(path, dir, &mut problems));
    }
    settings
        .vars
        .extend(assignments("--var", &args.var, '=', &mut problems));
    let env_file = args.env_file.clone().or_else(|| present(dir, ".env"));
    if let Some(path) = env_file {
        settings.env.extend(read_dotenv(&path, dir, &mut problems));
    }
    settings.inputs = assignments("--input", &args.input, '=', &mut problems)
        .into_iter()
        .collect();
    settings.platforms = platforms(&args.platform, &mut problems);
    settings.matrix = assignments("--matrix", &args.matrix, ':', &mut problems);
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(RunError::Settings(problems))
    }
}

fn present(dir: &Path, name: &str) -> Option<PathBuf> {
    let path = dir.join(name);
    path.is_file().then_some(path)
}

/// `NAME=VALUE`, or `NAME` alone to read the value from the environment.
fn secret(item: &str) -> Result<(String, String), String> {
    if let Some((name, value)) = item.split_once('=') {
        return valid_name("-s", item, name).map(|n| (n, value.to_owned()));
    }
    let name = valid_name("-s", item, item)?;
    std::env::var(&name)
        .map(|v| (name.clone(), v))
        .map_err(|_| {
            format!("-s {name}: `{name}` is not set in the environment (use -s {name}=VALUE)")
        })
}

fn valid_name(flag: &str, item: &str, name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("{flag} `{item}`: expected NAME=VALUE"));
    }
    Ok(name.to_owned())
}

/// `NAME<sep>VALUE` items in order; malformed ones become problems.
fn assignments(
    flag: &str,
    items: &[String],
    sep: char,
    problems: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for item in items {
        match item.split_once(sep) {
            Some((name, value)) => match valid_name(flag, item, name) {
                Ok(name) => out.push((name, value.to_owned())),
                Err(p) => problems.push(p),
            },
            None => problems.push(format!("{flag} `{item}`: expected NAME{sep}VALUE")),
        }
    }
    out
}

/// The platforms without any `-P`: what `gantry validate` checks `runs-on` against.
pub fn default_platforms() -> IndexMap<String, Platform> {
    platforms(&[], &mut Vec::new())
}

/// The labels `-P` maps (lower-case), which override the defaults.
pub fn explicit_labels(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|item| item.split(','))
        .filter_map(|item| item.split_once('='))
        .map(|(label, _)| label.trim().to_ascii_lowercase())
        .collect()
}

fn platforms(items: &[String], problems: &mut Vec<String>) -> IndexMap<String, Platform> {
    let mut map: IndexMap<String, Platform> = DEFAULT_LABELS
        .iter()
        .map(|l| ((*l).to_owned(), Platform::Image(DEFAULT_IMAGE.to_owned())))
        .collect();
    for (label, target) in assignments("-P", items, '=', problems) {
        let target = target.trim();
        let platform = if target.eq_ignore_ascii_case("host") {
            Platform::Host
        } else if target.is_empty() {
            problems.push(format!("-P {label}=: expected an image or `host`"));
            continue;
        } else {
            Platform::Image(target.to_owned())
        };
        map.insert(label.to_ascii_lowercase(), platform);
    }
    map
}

/// A dotenv file: `NAME=VALUE` lines, optional `export `, `#` comments, blank lines, values in
/// single quotes (literal) or double quotes (`\n`, `\"`, `\\` escapes). Problems name the line.
fn read_dotenv(path: &Path, dir: &Path, problems: &mut Vec<String>) -> IndexMap<String, String> {
    // Shown as given, or relative to the current directory for the default files.
    let shown = path.strip_prefix(dir).unwrap_or(path).display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_dotenv(&shown, &text, problems),
        Err(e) => {
            problems.push(format!("cannot read `{}`: {e}", path.display()));
            IndexMap::new()
        }
    }
}

pub fn parse_dotenv(
    file: &str,
    text: &str,
    problems: &mut Vec<String>,
) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            problems.push(format!("{file}:{}: expected NAME=VALUE", index + 1));
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            problems.push(format!(
                "{file}:{}: `{name}` is not a variable name",
                index + 1
            ));
            continue;
        }
        out.insert(name.to_owned(), unquote(value.trim()));
    }
    out
}

fn unquote(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        return value[1..value.len() - 1].to_owned();
    }
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        let mut out = String::new();
        let mut chars = value[1..value.len() - 1].chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                },
                (c, false) => out.push(c),
            }
        }
        return out;
    }
    // An unquoted value ends at ` #` (a trailing comment).
    value
        .split(" #")
        .next()
        .unwrap_or(value)
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_reads_quotes_exports_and_comments_and_names_every_bad_line() {
        let mut problems = Vec::new();
        let text = "# c\nA=1\nexport B='x y'\nC=\"l1\\nl2\"\nbad line\nD=v # note\n=x\n";
        let env = parse_dotenv(".env", text, &mut problems);
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "x y");
        assert_eq!(env["C"], "l1\nl2");
        assert_eq!(env["D"], "v");
        assert_eq!(
            problems,
            [
                ".env:5: expected NAME=VALUE",
                ".env:7: `` is not a variable name"
            ]
        );
    }

    #[test]
    fn platforms_default_to_the_runner_image_and_accept_host() {
        let mut problems = Vec::new();
        let map = platforms(
            &["Ubuntu-Latest=host".into(), "x=img:1".into(), "y".into()],
            &mut problems,
        );
        assert_eq!(map["ubuntu-latest"], Platform::Host);
        assert_eq!(map["ubuntu-22.04"], Platform::Image(DEFAULT_IMAGE.into()));
        assert_eq!(map["x"], Platform::Image("img:1".into()));
        assert_eq!(problems, ["-P `y`: expected NAME=VALUE"]);
    }
}
