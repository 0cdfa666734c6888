//! `GITHUB_ACTION` / `github.action`: the step's `id` when it has one, else the name GitHub
//! generates: `__run` for a script, `__OWNER_REPO` for an action (special characters removed),
//! `__self` for a local action, `__docker` for a `docker://` image; a name used again in the
//! job gets `_2`, `_3`, ... as GitHub numbers them.

use std::collections::HashMap;

use gantry_workflow::{Step, StepKind};

/// The names handed out so far in one job.
#[derive(Debug, Default)]
pub(crate) struct ActionNames {
    used: HashMap<String, usize>,
}

impl ActionNames {
    pub(crate) fn name(&mut self, step: &Step) -> String {
        if let Some(id) = &step.id {
            return id.value.clone();
        }
        let base = generated(&step.kind);
        let count = self.used.entry(base.clone()).or_default();
        *count += 1;
        match *count {
            1 => base,
            n => format!("{base}_{n}"),
        }
    }
}

fn generated(kind: &StepKind) -> String {
    let uses = match kind {
        StepKind::Run { .. } => return "__run".to_owned(),
        StepKind::Uses { uses, .. } => uses.value.as_str(),
    };
    if uses.starts_with("./") || uses.starts_with('.') {
        return "__self".to_owned();
    }
    if uses.starts_with("docker://") {
        return "__docker".to_owned();
    }
    let path = uses.split('@').next().unwrap_or(uses);
    let mut parts = path.split('/');
    let owner = parts.next().unwrap_or_default();
    let repo = parts.next().unwrap_or_default();
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    };
    format!("__{}_{}", clean(owner), clean(repo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_workflow::Spanned;

    fn step(id: Option<&str>, uses: Option<&str>) -> Step {
        let kind = match uses {
            Some(u) => StepKind::Uses {
                uses: Spanned::new(u.to_owned(), Default::default()),
                with: Default::default(),
            },
            None => StepKind::Run {
                run: Spanned::new("true".to_owned(), Default::default()),
                shell: None,
                working_directory: None,
            },
        };
        Step {
            id: id.map(|i| Spanned::new(i.to_owned(), Default::default())),
            name: None,
            if_: None,
            kind,
            env: Default::default(),
            continue_on_error: None,
            timeout_minutes: None,
            span: Default::default(),
        }
    }

    #[test]
    fn ids_win_and_generated_names_are_numbered() {
        let mut names = ActionNames::default();
        let got: Vec<String> = [
            step(None, None),
            step(Some("greet"), None),
            step(None, None),
            step(None, Some("actions/checkout@v4")),
            step(None, Some("actions/checkout@v4")),
            step(None, Some("./.github/actions/x")),
            step(None, Some("docker://alpine:3")),
            step(None, Some("my.org/some.action/sub@main")),
        ]
        .iter()
        .map(|s| names.name(s))
        .collect();
        assert_eq!(
            got,
            [
                "__run",
                "greet",
                "__run_2",
                "__actions_checkout",
                "__actions_checkout_2",
                "__self",
                "__docker",
                "__myorg_someaction",
            ]
        );
    }
}
