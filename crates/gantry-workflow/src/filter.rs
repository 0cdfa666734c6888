//! GitHub's filter patterns for `branches`, `tags`, `paths` and their `-ignore` variants.
//!
//! Syntax (GitHub's "Filter pattern cheat sheet"):
//! - `*` matches zero or more characters except `/`;
//! - `**` matches zero or more of any character; `**/` matches zero or more whole directories,
//!   so `**/README.md` matches `README.md` and `js/README.md`;
//! - `?` matches zero or one of the preceding character, `+` one or more of it;
//! - `[...]` matches one listed alphanumeric character; ranges may only span `a-z`, `A-Z` or
//!   `0-9`;
//! - a leading `!` negates the pattern; within a list the last matching pattern wins;
//! - `\` escapes a special character (`*`, `?`, `+`, `[`, `]`, `!`, `\`); before any other
//!   character it is a literal backslash (file paths may contain one).
//!
//! Patterns are compiled once with [`Pattern::parse`] and matched without regexes.

use thiserror::Error;

/// Why a pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterErrorKind {
    #[error("filter pattern cannot be empty")]
    Empty,
    #[error("at least one character must follow the negating '!'")]
    LoneNegation,
    #[error("'{0}' must follow a literal character or a character class")]
    DanglingQuantifier(char),
    #[error("character class '[]' cannot be empty")]
    EmptyClass,
    #[error("missing closing ']' for the character class")]
    UnclosedClass,
    #[error("invalid range '{0}-{1}': ranges can only span a-z, A-Z or 0-9")]
    InvalidRange(char, char),
    #[error("range '{0}-' is missing its end")]
    UnfinishedRange(char),
    #[error("'{0}' cannot appear in a character class: it may only list a-z, A-Z and 0-9")]
    ClassCharacter(char),
}

/// An invalid pattern, with the 0-based character offset of the problem inside the pattern
/// (including any leading `!`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid filter pattern at character {position}: {kind}")]
pub struct FilterError {
    pub position: usize,
    pub kind: FilterErrorKind,
}

/// One compiled filter pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    negated: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Char(char),
    /// Inclusive character ranges; single characters are `(c, c)`.
    Class(Vec<(char, char)>),
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(a) => *a == c,
            Atom::Class(ranges) => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    One(Atom),
    /// `x?`
    Optional(Atom),
    /// `x+`
    OneOrMore(Atom),
    /// `*`: any run without `/`.
    Star,
    /// `**`: any run.
    DoubleStar,
    /// `**/`: empty, or any run ending in `/`.
    DirStar,
}

impl Pattern {
    /// Compiles a pattern, returning the first error; [`Pattern::validate`] returns all of them.
    pub fn parse(source: &str) -> Result<Pattern, FilterError> {
        let (pattern, mut errors) = compile(source);
        if errors.is_empty() {
            Ok(pattern)
        } else {
            Err(errors.swap_remove(0))
        }
    }

    /// Every syntax error in `source`, in order (empty when the pattern is valid).
    pub fn validate(source: &str) -> Vec<FilterError> {
        compile(source).1
    }

    /// The pattern as written, including a leading `!`.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern starts with `!`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// Whether `input` matches the pattern body (the negation is not applied here; see
    /// [`FilterSet`]).
    pub fn matches(&self, input: &str) -> bool {
        let chars: Vec<char> = input.chars().collect();
        Matcher::new(&self.tokens, &chars).run()
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Pattern {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::parse(s)
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '*' | '?' | '+' | '[' | ']' | '!' | '\\')
}

/// Compiles as much as possible and collects every error (parsers recover).
fn compile(source: &str) -> (Pattern, Vec<FilterError>) {
    let chars: Vec<char> = source.chars().collect();
    let mut errors = Vec::new();
    let negated = chars.first() == Some(&'!');
    let start = usize::from(negated);
    if chars.is_empty() {
        errors.push(FilterError {
            position: 0,
            kind: FilterErrorKind::Empty,
        });
    } else if negated && chars.len() == 1 {
        errors.push(FilterError {
            position: 0,
            kind: FilterErrorKind::LoneNegation,
        });
    }
    let tokens = tokenize(&chars, start, &mut errors);
    (
        Pattern {
            source: source.to_owned(),
            negated,
            tokens,
        },
        errors,
    )
}

fn tokenize(chars: &[char], start: usize, errors: &mut Vec<FilterError>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut pos = start;
    while pos < chars.len() {
        let c = chars[pos];
        pos = match c {
            '*' => star(chars, pos, &mut tokens),
            '?' | '+' => quantify(c, pos, &mut tokens, errors),
            '[' => class(chars, pos, &mut tokens, errors),
            '\\' => escape(chars, pos, &mut tokens),
            _ => {
                tokens.push(Token::One(Atom::Char(c)));
                pos + 1
            }
        };
    }
    tokens
}

fn star(chars: &[char], pos: usize, tokens: &mut Vec<Token>) -> usize {
    if chars.get(pos + 1) != Some(&'*') {
        tokens.push(Token::Star);
        return pos + 1;
    }
    if chars.get(pos + 2) == Some(&'/') {
        tokens.push(Token::DirStar);
        return pos + 3;
    }
    tokens.push(Token::DoubleStar);
    pos + 2
}

/// `?` and `+` apply to the preceding single-character atom.
fn quantify(c: char, pos: usize, tokens: &mut Vec<Token>, errors: &mut Vec<FilterError>) -> usize {
    match tokens.pop() {
        Some(Token::One(atom)) => {
            tokens.push(if c == '?' {
                Token::Optional(atom)
            } else {
                Token::OneOrMore(atom)
            });
        }
        other => {
            tokens.extend(other);
            errors.push(FilterError {
                position: pos,
                kind: FilterErrorKind::DanglingQuantifier(c),
            });
        }
    }
    pos + 1
}

fn escape(chars: &[char], pos: usize, tokens: &mut Vec<Token>) -> usize {
    match chars.get(pos + 1) {
        Some(&next) if is_special(next) => {
            tokens.push(Token::One(Atom::Char(next)));
            pos + 2
        }
        // A backslash before an ordinary character (or at the end) is itself literal.
        _ => {
            tokens.push(Token::One(Atom::Char('\\')));
            pos + 1
        }
    }
}

fn class(
    chars: &[char],
    open: usize,
    tokens: &mut Vec<Token>,
    errors: &mut Vec<FilterError>,
) -> usize {
    let mut ranges = Vec::new();
    let mut pos = open + 1;
    if chars.get(pos) == Some(&']') {
        errors.push(FilterError {
            position: open,
            kind: FilterErrorKind::EmptyClass,
        });
        tokens.push(Token::One(Atom::Class(ranges)));
        return pos + 1;
    }
    while pos < chars.len() && chars[pos] != ']' {
        pos = class_item(chars, pos, &mut ranges, errors);
    }
    if pos >= chars.len() {
        errors.push(FilterError {
            position: open,
            kind: FilterErrorKind::UnclosedClass,
        });
    }
    tokens.push(Token::One(Atom::Class(ranges)));
    pos + 1
}

fn class_item(
    chars: &[char],
    pos: usize,
    ranges: &mut Vec<(char, char)>,
    errors: &mut Vec<FilterError>,
) -> usize {
    let lo = chars[pos];
    if chars.get(pos + 1) != Some(&'-') {
        if lo.is_ascii_alphanumeric() {
            ranges.push((lo, lo));
        } else {
            errors.push(FilterError {
                position: pos,
                kind: FilterErrorKind::ClassCharacter(lo),
            });
        }
        return pos + 1;
    }
    match chars.get(pos + 2) {
        Some(&hi) if hi != ']' => {
            if valid_range(lo, hi) {
                ranges.push((lo, hi));
            } else {
                errors.push(FilterError {
                    position: pos,
                    kind: FilterErrorKind::InvalidRange(lo, hi),
                });
            }
            pos + 3
        }
        _ => {
            errors.push(FilterError {
                position: pos,
                kind: FilterErrorKind::UnfinishedRange(lo),
            });
            pos + 2
        }
    }
}

fn valid_range(lo: char, hi: char) -> bool {
    let within = |a: char, b: char| (a..=b).contains(&lo) && (a..=b).contains(&hi);
    lo <= hi && (within('a', 'z') || within('A', 'Z') || within('0', '9'))
}

/// Backtracking matcher with a memo of failed (token, input) positions, so patterns with
/// many stars stay polynomial.
struct Matcher<'a> {
    tokens: &'a [Token],
    input: &'a [char],
    failed: Vec<bool>,
}

impl<'a> Matcher<'a> {
    fn new(tokens: &'a [Token], input: &'a [char]) -> Self {
        let failed = vec![false; (tokens.len() + 1) * (input.len() + 1)];
        Matcher {
            tokens,
            input,
            failed,
        }
    }

    fn run(&mut self) -> bool {
        self.at(0, 0)
    }

    fn at(&mut self, t: usize, i: usize) -> bool {
        let Some(token) = self.tokens.get(t) else {
            return i == self.input.len();
        };
        let key = t * (self.input.len() + 1) + i;
        if self.failed[key] {
            return false;
        }
        let ok = self.step(token, t, i);
        if !ok {
            self.failed[key] = true;
        }
        ok
    }

    fn char_is(&self, i: usize, atom: &Atom) -> bool {
        self.input.get(i).is_some_and(|c| atom.matches(*c))
    }

    fn step(&mut self, token: &Token, t: usize, i: usize) -> bool {
        let len = self.input.len();
        match token {
            Token::One(atom) => self.char_is(i, atom) && self.at(t + 1, i + 1),
            Token::Optional(atom) => {
                (self.char_is(i, atom) && self.at(t + 1, i + 1)) || self.at(t + 1, i)
            }
            Token::OneOrMore(atom) => {
                let run = (i..len)
                    .take_while(|&j| atom.matches(self.input[j]))
                    .count();
                (1..=run).rev().any(|n| self.at(t + 1, i + n))
            }
            Token::Star => {
                let run = (i..len).take_while(|&j| self.input[j] != '/').count();
                (0..=run).rev().any(|n| self.at(t + 1, i + n))
            }
            Token::DoubleStar => (i..=len).rev().any(|j| self.at(t + 1, j)),
            Token::DirStar => {
                let ends = (i..len).filter(|&j| self.input[j] == '/').map(|j| j + 1);
                let ends: Vec<usize> = std::iter::once(i).chain(ends).collect();
                ends.into_iter().any(|j| self.at(t + 1, j))
            }
        }
    }
}

/// A list of patterns evaluated in order: the last pattern matching an input decides, a
/// negated one excluding it and a plain one including it; no match means not included.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterSet {
    patterns: Vec<Pattern>,
}

/// An invalid pattern inside a list, with its index in the list.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("pattern #{index} '{pattern}': {error}")]
pub struct FilterSetError {
    pub index: usize,
    pub pattern: String,
    pub error: FilterError,
}

impl FilterSet {
    /// Compiles every pattern; reports every invalid one.
    pub fn parse<I, S>(patterns: I) -> Result<FilterSet, Vec<FilterSetError>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut compiled = Vec::new();
        let mut errors = Vec::new();
        for (index, source) in patterns.into_iter().enumerate() {
            let source = source.as_ref();
            let (pattern, pattern_errors) = compile(source);
            errors.extend(pattern_errors.into_iter().map(|error| FilterSetError {
                index,
                pattern: source.to_owned(),
                error,
            }));
            compiled.push(pattern);
        }
        if errors.is_empty() {
            Ok(FilterSet { patterns: compiled })
        } else {
            Err(errors)
        }
    }

    pub fn from_patterns(patterns: Vec<Pattern>) -> FilterSet {
        FilterSet { patterns }
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `input` is included by the list (last matching pattern wins).
    pub fn matches(&self, input: &str) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|p| p.matches(input))
            .is_some_and(|p| !p.is_negated())
    }
}

/// Which kind of name an [`EventFilter`] looks at; used in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Branches,
    Tags,
    Paths,
}

impl FilterKind {
    pub fn include_key(self) -> &'static str {
        match self {
            FilterKind::Branches => "branches",
            FilterKind::Tags => "tags",
            FilterKind::Paths => "paths",
        }
    }

    pub fn ignore_key(self) -> &'static str {
        match self {
            FilterKind::Branches => "branches-ignore",
            FilterKind::Tags => "tags-ignore",
            FilterKind::Paths => "paths-ignore",
        }
    }
}

/// Both the include list and its `-ignore` counterpart were given for one event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{}' and '{}' cannot be used together for the same event; use '!' patterns in '{}' instead", kind.include_key(), kind.ignore_key(), kind.include_key())]
pub struct FilterConflict {
    pub kind: FilterKind,
}

/// One filter of an event: an include list (`branches`) or an ignore list (`branches-ignore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    Include(FilterSet),
    Ignore(FilterSet),
}

impl EventFilter {
    /// Combines the two keys of one kind; `Ok(None)` when neither is given.
    pub fn new(
        kind: FilterKind,
        include: Option<FilterSet>,
        ignore: Option<FilterSet>,
    ) -> Result<Option<EventFilter>, FilterConflict> {
        match (include, ignore) {
            (Some(_), Some(_)) => Err(FilterConflict { kind }),
            (Some(set), None) => Ok(Some(EventFilter::Include(set))),
            (None, Some(set)) => Ok(Some(EventFilter::Ignore(set))),
            (None, None) => Ok(None),
        }
    }

    /// For branch and tag names: included, or not ignored.
    pub fn allows_name(&self, name: &str) -> bool {
        match self {
            EventFilter::Include(set) => set.matches(name),
            EventFilter::Ignore(set) => !set.matches(name),
        }
    }

    /// For changed files: `paths` runs when at least one file is included; `paths-ignore`
    /// runs when at least one file is not ignored. No changed files never matches.
    pub fn allows_paths<S: AsRef<str>>(&self, files: &[S]) -> bool {
        files.iter().any(|f| self.allows_name(f.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> FilterSet {
        FilterSet::parse(patterns).unwrap()
    }

    fn matches(patterns: &[&str], input: &str) -> bool {
        set(patterns).matches(input)
    }

    /// (patterns, matching inputs, non-matching inputs) from GitHub's cheat sheet,
    /// "Patterns to match branches and tags".
    const REF_EXAMPLES: &[(&[&str], &[&str], &[&str])] = &[
        (
            &["feature/*"],
            &["feature/my-branch", "feature/your-branch"],
            &["feature/a/b", "feature"],
        ),
        (
            &["feature/**"],
            &[
                "feature/beta-a/my-branch",
                "feature/your-branch",
                "feature/mona/the/octocat",
            ],
            &["features/x"],
        ),
        (
            &["main", "releases/mona-the-octocat"],
            &["main", "releases/mona-the-octocat"],
            &["mainline", "releases/x"],
        ),
        (&["*"], &["main", "releases"], &["releases/v1"]),
        (&["**"], &["all/the/branches", "every/tag"], &[]),
        (
            &["*feature"],
            &["mona-feature", "feature", "ver-10-feature"],
            &["feature-x", "a/feature"],
        ),
        (&["v2*"], &["v2", "v2.0", "v2.9"], &["v1", "v2/x"]),
        (
            &["v[12].[0-9]+.[0-9]+"],
            &["v1.10.1", "v2.0.0"],
            &["v3.0.0", "v1.x.1", "v1.0", "v1..1"],
        ),
    ];

    /// "Patterns to match file paths".
    const PATH_EXAMPLES: &[(&[&str], &[&str], &[&str])] = &[
        (&["*"], &["README.md", "server.rb"], &["docs/README.md"]),
        (
            &["*.jsx?"],
            &["page.js", "page.jsx"],
            &["page.jsxx", "src/page.js"],
        ),
        (&["**"], &["all/the/files.md"], &[]),
        (&["*.js"], &["app.js", "index.js"], &["js/index.js"]),
        (
            &["**.js"],
            &["index.js", "js/index.js", "src/js/app.js"],
            &["index.jsx"],
        ),
        (
            &["docs/*"],
            &["docs/README.md", "docs/file.txt"],
            &["docs/a/b.md", "README.md"],
        ),
        (
            &["docs/**"],
            &["docs/README.md", "docs/mona/octocat.txt"],
            &["README.md"],
        ),
        (
            &["docs/**/*.md"],
            &[
                "docs/README.md",
                "docs/mona/hello-world.md",
                "docs/a/markdown/file.md",
            ],
            &["docs/a.txt"],
        ),
        (
            &["**/docs/**"],
            &[
                "docs/hello.md",
                "dir/docs/my-file.txt",
                "space/docs/plan/space.doc",
            ],
            &["mydocs/x"],
        ),
        (
            &["**/README.md"],
            &["README.md", "js/README.md"],
            &["XREADME.md"],
        ),
        (
            &["**/*src/**"],
            &["a/src/app.js", "my-src/code/js/app.js"],
            &["src.js"],
        ),
        (
            &["**/*-post.md"],
            &["my-post.md", "path/their-post.md"],
            &["post.md"],
        ),
        (
            &["**/migrate-*.sql"],
            &[
                "migrate-10909.sql",
                "db/migrate-v1.0.sql",
                "db/sept/migrate-v1.sql",
            ],
            &["migrate.sql"],
        ),
        (
            &["*.md", "!README.md"],
            &["hello.md"],
            &["README.md", "docs/hello.md"],
        ),
        (
            &["*.md", "!README.md", "README*"],
            &["hello.md", "README.md", "README.doc"],
            &["docs/x.md"],
        ),
    ];

    #[test]
    fn cheat_sheet_examples() {
        for (patterns, yes, no) in REF_EXAMPLES.iter().chain(PATH_EXAMPLES) {
            for input in *yes {
                assert!(
                    matches(patterns, input),
                    "{patterns:?} should match {input}"
                );
            }
            for input in *no {
                assert!(
                    !matches(patterns, input),
                    "{patterns:?} should not match {input}"
                );
            }
        }
    }

    #[test]
    fn branches_example_with_negation() {
        // `branches: [ 'releases/**', '!releases/**-alpha' ]`
        let s = set(&["releases/**", "!releases/**-alpha"]);
        assert!(s.matches("releases/10"));
        assert!(s.matches("releases/beta/mona"));
        assert!(!s.matches("releases/10-alpha"));
        assert!(!s.matches("releases/beta/3-alpha"));
        assert!(!s.matches("main"));
    }

    #[test]
    fn paths_example_with_negation() {
        // `paths: [ 'sub-project/**', '!sub-project/docs/**' ]`
        let s = set(&["sub-project/**", "!sub-project/docs/**"]);
        assert!(s.matches("sub-project/src/a.rs"));
        assert!(!s.matches("sub-project/docs/a.md"));
        let f = EventFilter::Include(s);
        assert!(f.allows_paths(&["sub-project/docs/a.md", "sub-project/x"]));
        assert!(!f.allows_paths(&["sub-project/docs/a.md"]));
    }

    #[test]
    fn paths_ignore_runs_when_any_file_is_not_ignored() {
        let f = EventFilter::Ignore(set(&["docs/**"]));
        assert!(!f.allows_paths(&["docs/a.md", "docs/b/c.md"]));
        assert!(f.allows_paths(&["docs/a.md", "src/main.rs"]));
        assert!(!f.allows_paths::<&str>(&[]));
    }

    #[test]
    fn escapes_make_special_characters_literal() {
        assert!(matches(&["\\!file"], "!file"));
        assert!(matches(&["a\\*b"], "a*b"));
        assert!(!matches(&["a\\*b"], "axb"));
        assert!(matches(&["c\\+\\+"], "c++"));
        assert!(!matches(&["c\\+\\+"], "cc"));
        assert!(matches(&["escape\\\\backslash"], "escape\\backslash"));
        assert!(matches(&["dir\\file"], "dir\\file"));
        assert!(matches(&["\\[x\\]"], "[x]"));
        assert!(!matches(&["release+"], "release+"));
        assert!(matches(&["release+"], "releasee"));
    }

    #[test]
    fn dot_is_literal() {
        assert!(!matches(&[".yml"], "fyml"));
        assert!(matches(&[".yml"], ".yml"));
    }

    #[test]
    fn quantifiers_apply_to_classes_and_literals() {
        assert!(matches(&["v[0-9]+"], "v123"));
        assert!(!matches(&["v[0-9]+"], "v"));
        assert!(matches(&["colou?r"], "color"));
        assert!(matches(&["colou?r"], "colour"));
        assert!(!matches(&["colou?r"], "colouur"));
        assert!(matches(&["[CB]at"], "Cat"));
        assert!(matches(&["[1-2]00"], "200"));
        assert!(!matches(&["[1-2]00"], "300"));
    }

    #[test]
    fn last_match_wins() {
        assert!(!matches(&["!main", "*"], "x/y"));
        assert!(matches(&["!main", "*"], "main"));
        assert!(!matches(&["*", "!main"], "main"));
        assert!(!matches(&["!main"], "other"));
    }

    #[test]
    fn double_star_slash_matches_zero_or_more_directories() {
        assert!(matches(&["a/**/b"], "a/b"));
        assert!(matches(&["a/**/b"], "a/x/y/b"));
        assert!(!matches(&["a/**/b"], "a/xb"));
    }

    #[test]
    fn invalid_patterns_report_position() {
        let err = |p: &str| Pattern::parse(p).unwrap_err();
        assert_eq!(err("").kind, FilterErrorKind::Empty);
        assert_eq!(err("!").kind, FilterErrorKind::LoneNegation);
        assert_eq!(
            err("+a"),
            FilterError {
                position: 0,
                kind: FilterErrorKind::DanglingQuantifier('+')
            }
        );
        assert_eq!(
            err("!?a"),
            FilterError {
                position: 1,
                kind: FilterErrorKind::DanglingQuantifier('?')
            }
        );
        assert_eq!(err("a*?").position, 2);
        assert_eq!(
            err("ab[0-9"),
            FilterError {
                position: 2,
                kind: FilterErrorKind::UnclosedClass
            }
        );
        assert_eq!(
            err("x[]"),
            FilterError {
                position: 1,
                kind: FilterErrorKind::EmptyClass
            }
        );
        assert_eq!(
            err("[a-Z]"),
            FilterError {
                position: 1,
                kind: FilterErrorKind::InvalidRange('a', 'Z')
            }
        );
        assert_eq!(err("[9-0]").kind, FilterErrorKind::InvalidRange('9', '0'));
        assert_eq!(err("[0-]").kind, FilterErrorKind::UnfinishedRange('0'));
        assert_eq!(err("v[._]").kind, FilterErrorKind::ClassCharacter('.'));
        assert_eq!(err("v[._]").position, 2);
        assert_eq!(Pattern::validate("+[]?[z-a").len(), 4); // +, [], z-a, unclosed
    }

    #[test]
    fn set_reports_every_bad_pattern() {
        let errors = FilterSet::parse(["ok", "+bad", "[", "fine/**"]).unwrap_err();
        let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
        assert_eq!(indexes, vec![1, 2]);
        assert!(errors[0].to_string().contains("'+bad'"), "{}", errors[0]);
    }

    #[test]
    fn include_and_ignore_conflict() {
        let conflict = EventFilter::new(FilterKind::Branches, Some(set(&["a"])), Some(set(&["b"])));
        assert_eq!(
            conflict.unwrap_err().to_string(),
            "'branches' and 'branches-ignore' cannot be used together for the same event; use '!' patterns in 'branches' instead"
        );
        assert_eq!(
            EventFilter::new(FilterKind::Tags, None, None).unwrap(),
            None
        );
        let ignore = EventFilter::new(FilterKind::Tags, None, Some(set(&["v1*"])))
            .unwrap()
            .unwrap();
        assert!(!ignore.allows_name("v1.0"));
        assert!(ignore.allows_name("v2.0"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let p = Pattern::parse("**a**a**a**a**a**a**a**b").unwrap();
        assert!(!p.matches(&"a".repeat(200)));
    }
}
