//! Workflow commands written to a step's stdout or stderr (`::name k=v,k=v::message`).
//!
//! The rules follow GitHub's runner (`ActionCommand.TryParseV2` / `TryParse` and
//! `ActionCommandManager`): the line may start with whitespace; command names and property names
//! are case-insensitive; properties are `,`-separated `name=value` pairs (pairs without both sides
//! are dropped); values and data are unescaped; unknown command names are plain output. The legacy
//! `##[name k=v;]data` form is understood too.
//!
//! This module only *interprets* lines: it returns [`Effect`]s, and the step engine applies them
//! (outputs, env, masks) and renders them (through the masker).

use indexmap::IndexMap;

/// A parsed workflow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionCommand {
    /// Lower-cased command name (`set-output`).
    pub name: String,
    /// Lower-cased property names to unescaped values, in the order written.
    pub properties: IndexMap<String, String>,
    /// The unescaped message after the second `::`.
    pub data: String,
}

/// Commands the runner knows. Anything else that looks like a command is ordinary output.
const REGISTERED: &[&str] = &[
    "stop-commands",
    "set-env",
    "set-output",
    "save-state",
    "add-mask",
    "add-path",
    "add-matcher",
    "remove-matcher",
    "debug",
    "notice",
    "warning",
    "error",
    "group",
    "endgroup",
    "echo",
];

/// Data escapes, undone in this order (the runner's `_escapeDataMappings`; `%25` last so that
/// `%250A` stays `%0A`).
const DATA_ESCAPES: &[(&str, &str)] = &[("%0D", "\r"), ("%0A", "\n"), ("%25", "%")];
const PROPERTY_ESCAPES: &[(&str, &str)] = &[
    ("%0D", "\r"),
    ("%0A", "\n"),
    ("%3A", ":"),
    ("%2C", ","),
    ("%25", "%"),
];
const LEGACY_ESCAPES: &[(&str, &str)] = &[
    ("%3B", ";"),
    ("%0D", "\r"),
    ("%0A", "\n"),
    ("%5D", "]"),
    ("%25", "%"),
];

fn unescape(value: &str, table: &[(&str, &str)]) -> String {
    table
        .iter()
        .fold(value.to_owned(), |acc, (from, to)| acc.replace(from, to))
}

/// Escapes a message the way `@actions/core` does before writing a command.
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value the way `@actions/core` does.
pub fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// Parses one line as a command whose name is one of `known` (compared case-insensitively).
pub fn parse_command(line: &str, known: &dyn Fn(&str) -> bool) -> Option<ActionCommand> {
    parse_v2(line, known).or_else(|| parse_legacy(line, known))
}

fn parse_v2(line: &str, known: &dyn Fn(&str) -> bool) -> Option<ActionCommand> {
    let rest = line.trim_start().strip_prefix("::")?;
    let end = rest.find("::")?;
    let (info, data) = (&rest[..end], &rest[end + 2..]);
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], Some(&info[i + 1..])),
        None => (info, None),
    };
    if !known(name) {
        return None;
    }
    let mut properties = IndexMap::new();
    for pair in props.unwrap_or("").trim().split(',') {
        // `Split('=', 2, RemoveEmptyEntries)`: `a=` and `=b` have one entry and are dropped.
        let mut parts = pair.splitn(2, '=').filter(|p| !p.is_empty());
        if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            properties.insert(k.to_ascii_lowercase(), unescape(v, PROPERTY_ESCAPES));
        }
    }
    Some(ActionCommand {
        name: name.to_ascii_lowercase(),
        properties,
        data: unescape(data, DATA_ESCAPES),
    })
}

fn parse_legacy(line: &str, known: &dyn Fn(&str) -> bool) -> Option<ActionCommand> {
    let start = line.find("##[")?;
    let rest = &line[start + 3..];
    let end = rest.find(']')?;
    let (info, data) = (&rest[..end], &rest[end + 1..]);
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], Some(&info[i + 1..])),
        None => (info, None),
    };
    if !known(name) {
        return None;
    }
    let mut properties = IndexMap::new();
    for pair in props.unwrap_or("").split(';') {
        let mut parts = pair.trim().splitn(2, '=').filter(|p| !p.is_empty());
        if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            properties.insert(k.to_ascii_lowercase(), unescape(v, LEGACY_ESCAPES));
        }
    }
    Some(ActionCommand {
        name: name.to_ascii_lowercase(),
        properties,
        data: unescape(data, LEGACY_ESCAPES),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationLevel {
    Error,
    Warning,
    Notice,
}

/// An `::error::`, `::warning::` or `::notice::` annotation (or one the runner raises itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Annotation {
    pub level: AnnotationLevel,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub col: Option<u64>,
    pub end_line: Option<u64>,
    pub end_column: Option<u64>,
}

impl Annotation {
    /// An annotation with only a message (the runner's own errors and warnings).
    pub fn plain(level: AnnotationLevel, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
            title: None,
            file: None,
            line: None,
            col: None,
            end_line: None,
            end_column: None,
        }
    }
}

/// What one output line asks the step engine to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Print this line in the step log (it still goes through the masker).
    Output(String),
    /// A debug message (shown when `ACTIONS_STEP_DEBUG` is set).
    Debug(String),
    Annotation(Annotation),
    /// Start a collapsible group with this title.
    Group(String),
    EndGroup,
    /// Mask this value from now on (in this job).
    AddMask(String),
    SetOutput {
        name: String,
        value: String,
    },
    SaveState {
        name: String,
        value: String,
    },
    SetEnv {
        name: String,
        value: String,
    },
    AddPath(String),
    /// A command failed: the runner marks the step failed (after it ends).
    FailStep,
}

const SET_OUTPUT_DEPRECATED: &str = "The `{0}` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/";
const UNSECURE_DISABLED: &str = "The `{0}` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/";

/// Interprets the output lines of one step. Owns the state that spans lines: `stop-commands`
/// and `echo`.
#[derive(Debug, Clone, Default)]
pub struct CommandProcessor {
    stop_token: Option<String>,
    echo: bool,
    /// `ACTIONS_ALLOW_UNSECURE_COMMANDS=true` in the step's environment.
    allow_unsecure: bool,
}

impl CommandProcessor {
    pub fn new(allow_unsecure: bool) -> Self {
        Self {
            stop_token: None,
            echo: false,
            allow_unsecure,
        }
    }

    /// Interprets one line (without its line terminator).
    pub fn process_line(&mut self, line: &str) -> Vec<Effect> {
        let stop_token = self.stop_token.clone();
        let known = |name: &str| match &stop_token {
            Some(token) => name.eq_ignore_ascii_case(token),
            None => REGISTERED.iter().any(|c| c.eq_ignore_ascii_case(name)),
        };
        let Some(command) = parse_command(line, &known) else {
            return vec![Effect::Output(line.to_owned())];
        };
        if self.stop_token.take().is_some() {
            return vec![
                Effect::Output(line.to_owned()),
                Effect::Debug("Resume processing commands".into()),
            ];
        }
        if command.name == "stop-commands" {
            let debug = format!(
                "Paused processing commands until '::{}::' is received",
                command.data
            );
            // An empty token would never be seen again; the runner would then ignore every
            // command for the rest of the step, and so do we.
            self.stop_token = Some(command.data);
            return vec![Effect::Output(line.to_owned()), Effect::Debug(debug)];
        }
        let mut effects = Vec::new();
        if self.echo && !omits_echo(&command.name) {
            effects.push(Effect::Output(line.to_owned()));
        }
        match self.apply(&command, &mut effects) {
            Ok(()) => {}
            Err(message) => {
                let shown = if omits_echo(&command.name) {
                    command.name.clone()
                } else {
                    line.to_owned()
                };
                effects.push(error(format!(
                    "Unable to process command '{shown}' successfully."
                )));
                effects.push(error(message.0));
                effects.push(Effect::FailStep);
            }
        }
        effects
    }

    fn apply(&mut self, cmd: &ActionCommand, out: &mut Vec<Effect>) -> Result<(), CommandError> {
        let name = || required_name(cmd);
        match cmd.name.as_str() {
            "set-output" | "save-state" => {
                out.push(warning(SET_OUTPUT_DEPRECATED.replace("{0}", &cmd.name)));
                let name = name()?;
                out.push(if cmd.name == "set-output" {
                    Effect::SetOutput {
                        name,
                        value: cmd.data.clone(),
                    }
                } else {
                    Effect::SaveState {
                        name,
                        value: cmd.data.clone(),
                    }
                });
            }
            "set-env" => {
                self.require_unsecure(&cmd.name)?;
                let name = name()?;
                if name.eq_ignore_ascii_case("NODE_OPTIONS") {
                    out.push(error(
                        "Can't update NODE_OPTIONS environment variable using ::set-env:: command.",
                    ));
                } else {
                    out.push(Effect::SetEnv {
                        name,
                        value: cmd.data.clone(),
                    });
                }
            }
            "add-path" => {
                self.require_unsecure(&cmd.name)?;
                if cmd.data.is_empty() {
                    return Err(CommandError(
                        "Parameter 'path' cannot be null or empty.".into(),
                    ));
                }
                out.push(Effect::AddPath(cmd.data.clone()));
            }
            "add-mask" => {
                if cmd.data.trim().is_empty() {
                    out.push(warning(
                        "Can't add secret mask for empty string in ##[add-mask] command.",
                    ));
                } else {
                    if self.echo {
                        out.push(Effect::Output("::add-mask::***".into()));
                    }
                    out.push(Effect::AddMask(cmd.data.clone()));
                }
            }
            "debug" => out.push(Effect::Debug(cmd.data.clone())),
            "error" | "warning" | "notice" => out.push(Effect::Annotation(annotation(cmd))),
            "group" => out.push(Effect::Group(cmd.data.clone())),
            "endgroup" => out.push(Effect::EndGroup),
            "echo" => self.set_echo(&cmd.data, out)?,
            // Problem matchers are accepted and ignored: gantry does not rewrite output lines.
            _ => {}
        }
        Ok(())
    }

    fn require_unsecure(&self, command: &str) -> Result<(), CommandError> {
        if self.allow_unsecure {
            Ok(())
        } else {
            Err(CommandError(UNSECURE_DISABLED.replace("{0}", command)))
        }
    }

    fn set_echo(&mut self, data: &str, out: &mut Vec<Effect>) -> Result<(), CommandError> {
        if data.is_empty() {
            return Err(CommandError(
                "Parameter 'value' cannot be null or empty.".into(),
            ));
        }
        match data.trim().to_ascii_uppercase().as_str() {
            "ON" => self.echo = true,
            "OFF" => self.echo = false,
            _ => {
                return Err(CommandError(format!(
                    "Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '{data}'."
                )));
            }
        }
        let state = if self.echo { "on" } else { "off" };
        out.push(Effect::Debug(format!(
            "Setting echo command value to '{state}'"
        )));
        Ok(())
    }
}

/// A command that could not be applied; the message is shown as an error annotation.
#[derive(Debug)]
struct CommandError(String);

fn required_name(cmd: &ActionCommand) -> Result<String, CommandError> {
    match cmd.properties.get("name") {
        Some(name) if !name.is_empty() => Ok(name.clone()),
        _ => Err(CommandError(format!(
            "Required field 'name' is missing in ##[{}] command.",
            cmd.name
        ))),
    }
}

/// Commands whose own line is never echoed (their content may be sensitive or is shown another
/// way).
fn omits_echo(name: &str) -> bool {
    matches!(name, "add-mask" | "debug" | "error" | "warning" | "notice")
}

fn annotation(cmd: &ActionCommand) -> Annotation {
    let level = match cmd.name.as_str() {
        "error" => AnnotationLevel::Error,
        "warning" => AnnotationLevel::Warning,
        _ => AnnotationLevel::Notice,
    };
    let text = |key: &str| cmd.properties.get(key).cloned();
    let number = |key: &str| cmd.properties.get(key).and_then(|v| v.trim().parse().ok());
    Annotation {
        level,
        message: cmd.data.clone(),
        title: text("title"),
        file: text("file"),
        line: number("line"),
        col: number("col"),
        end_line: number("endline"),
        end_column: number("endcolumn"),
    }
}

fn error(message: impl Into<String>) -> Effect {
    Effect::Annotation(Annotation::plain(AnnotationLevel::Error, message))
}

fn warning(message: impl Into<String>) -> Effect {
    Effect::Annotation(Annotation::plain(AnnotationLevel::Warning, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Vec<Effect> {
        let mut p = CommandProcessor::new(false);
        lines.iter().flat_map(|l| p.process_line(l)).collect()
    }

    fn known(name: &str) -> bool {
        REGISTERED.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    #[test]
    fn parses_properties_and_unescapes() {
        let cmd = parse_command(
            "  ::Error File=a%2Cb.rs,line=3,title=x%3Ay,bad,=v,k=::m%0Aore%25",
            &known,
        )
        .unwrap();
        assert_eq!(cmd.name, "error");
        assert_eq!(cmd.properties.get("file").unwrap(), "a,b.rs");
        assert_eq!(cmd.properties.get("title").unwrap(), "x:y");
        assert_eq!(cmd.properties.len(), 3);
        assert_eq!(cmd.data, "m\nore%");
    }

    #[test]
    fn data_keeps_colon_and_comma_escapes() {
        let cmd = parse_command("::debug::a%3Ab%2C%250A", &known).unwrap();
        assert_eq!(cmd.data, "a%3Ab%2C%0A");
    }

    #[test]
    fn unknown_commands_are_output() {
        assert_eq!(
            run(&["::frobnicate::x"]),
            vec![Effect::Output("::frobnicate::x".into())]
        );
        assert_eq!(run(&["::error"]), vec![Effect::Output("::error".into())]);
    }

    #[test]
    fn legacy_form_is_understood() {
        let cmd = parse_command("prefix ##[set-output name=a%3Bb;]v%5D", &known).unwrap();
        assert_eq!(cmd.properties.get("name").unwrap(), "a;b");
        assert_eq!(cmd.data, "v]");
    }

    #[test]
    fn annotation_properties() {
        let effects = run(&["::warning file=f.rs,line=2,col=4,endLine=3,endColumn=9,title=T::msg"]);
        let Effect::Annotation(a) = &effects[0] else {
            panic!("{effects:?}")
        };
        assert_eq!(a.level, AnnotationLevel::Warning);
        assert_eq!(
            (a.line, a.col, a.end_line, a.end_column),
            (Some(2), Some(4), Some(3), Some(9))
        );
        assert_eq!(a.title.as_deref(), Some("T"));
        assert_eq!(a.file.as_deref(), Some("f.rs"));
    }

    #[test]
    fn stop_commands_until_token() {
        let effects = run(&[
            "::stop-commands::tok",
            "::error::no",
            "::tok::",
            "::error::yes",
        ]);
        assert!(effects.contains(&Effect::Output("::error::no".into())));
        let errors: Vec<_> = effects
            .iter()
            .filter(|e| matches!(e, Effect::Annotation(_)))
            .collect();
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn set_output_warns_and_sets() {
        let effects = run(&["::set-output name=x::1"]);
        assert!(
            matches!(&effects[0], Effect::Annotation(a) if a.message.contains("`set-output` command is deprecated"))
        );
        assert_eq!(
            effects[1],
            Effect::SetOutput {
                name: "x".into(),
                value: "1".into()
            }
        );
    }

    #[test]
    fn set_env_refused_unless_allowed() {
        let effects = run(&["::set-env name=A::b"]);
        assert!(effects.contains(&Effect::FailStep));
        assert!(effects.iter().any(|e| matches!(e, Effect::Annotation(a) if a.message.starts_with("The `set-env` command is disabled."))));
        let mut p = CommandProcessor::new(true);
        assert_eq!(
            p.process_line("::set-env name=A::b"),
            vec![Effect::SetEnv {
                name: "A".into(),
                value: "b".into()
            }]
        );
        assert_eq!(
            p.process_line("::add-path::/x"),
            vec![Effect::AddPath("/x".into())]
        );
    }

    #[test]
    fn missing_name_fails_step() {
        let effects = run(&["::save-state::v"]);
        assert!(effects.contains(&Effect::FailStep));
        assert!(effects.iter().any(|e| matches!(e, Effect::Annotation(a) if a.message == "Required field 'name' is missing in ##[save-state] command.")));
    }

    #[test]
    fn echo_on_echoes_commands_but_not_masks() {
        let effects = run(&["::echo::on", "::group::g", "::add-mask::s", "::echo::maybe"]);
        assert!(effects.contains(&Effect::Output("::group::g".into())));
        assert!(effects.contains(&Effect::Output("::add-mask::***".into())));
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::Output(l) if l.contains("::add-mask::s")))
        );
        assert!(effects.contains(&Effect::FailStep));
    }

    #[test]
    fn escape_round_trips() {
        let value = "a:b,c%d\r\ne";
        let line = format!(
            "::error title={}::{}",
            escape_property(value),
            escape_data(value)
        );
        let cmd = parse_command(&line, &known).unwrap();
        assert_eq!(cmd.properties.get("title").unwrap(), value);
        assert_eq!(cmd.data, value);
    }
}
