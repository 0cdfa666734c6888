//! The `options:` string of a job or service container: the subset of `docker create` flags
//! that makes sense for a job, parsed into bollard's types. Unknown flags are collected and
//! reported together, so a workflow author sees every problem at once.

use bollard::models::{HealthConfig, HostConfig};
use gantry_runner::executor::ExecutorError;

/// The parsed `options:`; fields left `None` keep Docker's (or the executor's) defaults.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ContainerOptions {
    pub nano_cpus: Option<i64>,
    pub memory: Option<i64>,
    pub shm_size: Option<i64>,
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub env: Vec<String>,
    pub network: Option<String>,
    pub privileged: bool,
    pub init: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub entrypoint: Option<String>,
    pub workdir: Option<String>,
    pub add_host: Vec<String>,
    pub dns: Vec<String>,
    pub security_opt: Vec<String>,
    pub tmpfs: Vec<String>,
    pub labels: Vec<String>,
    pub health: Option<HealthConfig>,
}

/// Flags that take no value.
const SWITCHES: &[&str] = &[
    "--privileged",
    "--init",
    "--read-only",
    "--rm",
    "--no-healthcheck",
];

impl ContainerOptions {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ExecutorError> {
        let mut opts = Self::default();
        let words = split_words(raw.unwrap_or_default())?;
        let mut errors = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let (flag, inline) = match words[i].split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (words[i].clone(), None),
            };
            i += 1;
            let takes_next =
                !SWITCHES.contains(&flag.as_str()) && flag.starts_with('-') && inline.is_none();
            let value = if !takes_next {
                inline
            } else {
                i += 1;
                words.get(i - 1).cloned()
            };
            if let Err(e) = opts.apply(&flag, value) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(opts)
        } else {
            Err(ExecutorError::UnsupportedOption(errors.join("`, `")))
        }
    }

    /// Applies one flag; the error is the text to report (the flag, or flag and bad value).
    fn apply(&mut self, flag: &str, value: Option<String>) -> Result<(), String> {
        let need = |v: Option<String>| v.ok_or_else(|| format!("{flag} (missing value)"));
        let bad = |v: &str| format!("{flag} {v} (invalid value)");
        match flag {
            "--cpus" => {
                let v = need(value)?;
                let cpus: f64 = v.parse().map_err(|_| bad(&v))?;
                self.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "--memory" | "-m" => {
                self.memory = Some(parse_size(&need(value)?).ok_or_else(|| bad(flag))?)
            }
            "--shm-size" => {
                self.shm_size = Some(parse_size(&need(value)?).ok_or_else(|| bad(flag))?)
            }
            "--hostname" | "-h" => self.hostname = Some(need(value)?),
            "--user" | "-u" => self.user = Some(need(value)?),
            "--env" | "-e" => self.env.push(env_entry(&need(value)?)),
            "--network" | "--net" => self.network = Some(need(value)?),
            "--entrypoint" => self.entrypoint = Some(need(value)?),
            "--workdir" | "-w" => self.workdir = Some(need(value)?),
            "--cap-add" => self.cap_add.push(need(value)?),
            "--cap-drop" => self.cap_drop.push(need(value)?),
            "--add-host" => self.add_host.push(need(value)?),
            "--dns" => self.dns.push(need(value)?),
            "--security-opt" => self.security_opt.push(need(value)?),
            "--tmpfs" => self.tmpfs.push(need(value)?),
            "--label" | "-l" => self.labels.push(need(value)?),
            "--privileged" => self.privileged = switch(flag, value)?,
            "--init" => self.init = switch(flag, value)?,
            "--read-only" => self.read_only = switch(flag, value)?,
            // Containers are always removed by the executor; `--rm` is what users expect anyway.
            "--rm" => {}
            "--no-healthcheck" => {
                switch(flag, value)?;
                self.health_mut().test = Some(vec!["NONE".into()]);
            }
            f if f.starts_with("--health-") => self.apply_health(f, need(value)?)?,
            _ => return Err(flag.to_string()),
        }
        Ok(())
    }

    fn apply_health(&mut self, flag: &str, value: String) -> Result<(), String> {
        let bad = || format!("{flag} {value} (invalid value)");
        let health = self.health_mut();
        match flag {
            "--health-cmd" => health.test = Some(vec!["CMD-SHELL".into(), value.clone()]),
            "--health-interval" => health.interval = Some(parse_duration(&value).ok_or_else(bad)?),
            "--health-timeout" => health.timeout = Some(parse_duration(&value).ok_or_else(bad)?),
            "--health-start-period" => {
                health.start_period = Some(parse_duration(&value).ok_or_else(bad)?)
            }
            "--health-retries" => health.retries = Some(value.parse().map_err(|_| bad())?),
            _ => return Err(flag.to_string()),
        }
        Ok(())
    }

    fn health_mut(&mut self) -> &mut HealthConfig {
        self.health.get_or_insert_with(HealthConfig::default)
    }

    /// Copies the host-level settings into a `HostConfig` (network mode is the caller's call).
    pub(crate) fn apply_to_host_config(&self, host: &mut HostConfig) {
        host.nano_cpus = self.nano_cpus;
        host.memory = self.memory;
        host.shm_size = self.shm_size;
        host.privileged = self.privileged.then_some(true);
        host.init = self.init.then_some(true);
        host.readonly_rootfs = self.read_only.then_some(true);
        host.cap_add = non_empty(&self.cap_add);
        host.cap_drop = non_empty(&self.cap_drop);
        host.extra_hosts = non_empty(&self.add_host);
        host.dns = non_empty(&self.dns);
        host.security_opt = non_empty(&self.security_opt);
        if !self.tmpfs.is_empty() {
            host.tmpfs = Some(
                self.tmpfs
                    .iter()
                    .map(|t| match t.split_once(':') {
                        Some((path, opts)) => (path.to_string(), opts.to_string()),
                        None => (t.clone(), String::new()),
                    })
                    .collect(),
            );
        }
    }
}

fn switch(flag: &str, value: Option<String>) -> Result<bool, String> {
    match value.as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(format!("{flag}={v} (invalid value)")),
    }
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// `-e NAME` takes the value from gantry's own environment, as `docker run -e NAME` does.
fn env_entry(entry: &str) -> String {
    if entry.contains('=') {
        return entry.to_string();
    }
    match std::env::var(entry) {
        Ok(v) => format!("{entry}={v}"),
        Err(_) => entry.to_string(),
    }
}

/// Docker sizes: `512m`, `1g`, `1024k`, `100b`, plain bytes.
pub(crate) fn parse_size(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s
        .strip_suffix('b')
        .filter(|r| !r.is_empty() && !r.ends_with(char::is_numeric))
        .unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1i64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        't' => (&s[..s.len() - 1], 1 << 40),
        'b' => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as i64)
}

/// Go durations as Docker takes them (`10s`, `1m30s`, `500ms`), in nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..split].parse().ok()?;
        rest = &rest[split..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Some(total as i64)
}

/// Splits `container.options` as a shell would (Docker's CLI receives them through one): whitespace
/// separates, quotes group, backslashes escape.
pub(crate) fn split_words(s: &str) -> Result<Vec<String>, ExecutorError> {
    shlex::split(s)
        .ok_or_else(|| ExecutorError::UnsupportedOption(format!("{s} (unterminated quote)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_flags() {
        let o = ContainerOptions::parse(Some(
            "--cpus 1.5 --memory=512m -h box --user 1000:1000 -e A=1 --env 'B=two words' --privileged \
             --cap-add NET_ADMIN --health-cmd \"pg_isready -U x\" --health-interval 10s --health-retries 5",
        ))
        .unwrap();
        assert_eq!(o.nano_cpus, Some(1_500_000_000));
        assert_eq!(o.memory, Some(512 << 20));
        assert_eq!(o.hostname.as_deref(), Some("box"));
        assert_eq!(o.user.as_deref(), Some("1000:1000"));
        assert_eq!(o.env, vec!["A=1", "B=two words"]);
        assert!(o.privileged);
        assert_eq!(o.cap_add, vec!["NET_ADMIN"]);
        let h = o.health.unwrap();
        assert_eq!(
            h.test,
            Some(vec!["CMD-SHELL".to_string(), "pg_isready -U x".to_string()])
        );
        assert_eq!(h.interval, Some(10_000_000_000));
        assert_eq!(h.retries, Some(5));
    }

    #[test]
    fn reports_every_unsupported_flag() {
        let err = ContainerOptions::parse(Some("--cpus 1 --gpus all --pid host")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported container option `--gpus`, `--pid`"
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("2mb"), Some(2 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("5"), None);
    }
}
