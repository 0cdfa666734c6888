//! Tokenizer with byte positions.
//!
//! Follows upstream's lexer closely because its quirks are observable in error messages: a `.`
//! starts a number unless it follows an identifier, `]`, `)` or `*`; `-`/`+` always start a
//! number; a lone `=`, `&` or `|` swallows the following characters up to a boundary and is
//! reported as one unexpected symbol; keywords are not keywords right after a `.`.

use crate::error::{ErrorKind, ExprError, MAX_LENGTH, Reason};
use crate::number::{is_js_space, parse_number};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Bang,
    BangEqual,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    And,
    Or,
    Star,
    Number(f64),
    /// The unescaped string value.
    String(String),
    Identifier,
    True,
    False,
    Null,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte range of the lexeme in the source.
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn lexeme<'a>(&self, source: &'a str) -> &'a str {
        source.get(self.start..self.end).unwrap_or("")
    }

    /// The token as upstream quotes it in error messages.
    pub fn describe(&self, source: &str) -> String {
        match &self.kind {
            TokenKind::Eof => "EOF".to_string(),
            TokenKind::String(value) => value.clone(),
            _ => self.lexeme(source).to_string(),
        }
    }
}

/// Splits `source` into tokens ending with `Eof`.
pub(crate) fn lex(source: &str) -> Result<Vec<Token>, ExprError> {
    if source.len() > MAX_LENGTH && source.encode_utf16().count() > MAX_LENGTH {
        let message = format!("Exceeded max expression length {MAX_LENGTH}");
        return Err(ExprError::new(
            ErrorKind::Lexing,
            Reason::TooLong,
            message,
            0,
        ));
    }
    let mut lexer = Lexer {
        source,
        pos: 0,
        start: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    source: &'a str,
    pos: usize,
    /// Start of the current iteration; upstream places the EOF token at the last one.
    start: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), ExprError> {
        while let Some(c) = self.peek() {
            self.start = self.pos;
            self.pos += c.len_utf8();
            self.lex_char(c)?;
        }
        let eof = Token {
            kind: TokenKind::Eof,
            start: self.start,
            end: self.pos,
        };
        self.tokens.push(eof);
        Ok(())
    }

    fn lex_char(&mut self, c: char) -> Result<(), ExprError> {
        match c {
            '(' => self.push(TokenKind::LeftParen),
            ')' => self.push(TokenKind::RightParen),
            '[' => self.push(TokenKind::LeftBracket),
            ']' => self.push(TokenKind::RightBracket),
            ',' => self.push(TokenKind::Comma),
            '*' => self.push(TokenKind::Star),
            '.' if self.dot_is_operator() => self.push(TokenKind::Dot),
            '.' | '-' | '+' => return self.number(),
            '!' => self.push_either('=', TokenKind::BangEqual, TokenKind::Bang),
            '<' => self.push_either('=', TokenKind::LessEqual, TokenKind::Less),
            '>' => self.push_either('=', TokenKind::GreaterEqual, TokenKind::Greater),
            '=' => return self.pair_or_symbol('=', TokenKind::EqualEqual),
            '&' => return self.pair_or_symbol('&', TokenKind::And),
            '|' => return self.pair_or_symbol('|', TokenKind::Or),
            ' ' | '\r' | '\t' | '\n' => {}
            '\'' => return self.string(),
            c if c.is_ascii_digit() => return self.number(),
            _ => return self.identifier(),
        }
        Ok(())
    }

    fn peek(&self) -> Option<char> {
        self.source
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
    }

    fn peek_second(&self) -> Option<char> {
        let mut rest = self.source.get(self.pos..)?.chars();
        rest.next();
        rest.next()
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            return true;
        }
        false
    }

    fn previous(&self) -> Option<&TokenKind> {
        self.tokens.last().map(|t| &t.kind)
    }

    fn dot_is_operator(&self) -> bool {
        matches!(
            self.previous(),
            Some(
                TokenKind::Identifier
                    | TokenKind::RightBracket
                    | TokenKind::RightParen
                    | TokenKind::Star
            )
        )
    }

    fn push(&mut self, kind: TokenKind) {
        self.tokens.push(Token {
            kind,
            start: self.start,
            end: self.pos,
        });
    }

    fn push_either(&mut self, next: char, matched: TokenKind, single: TokenKind) {
        let kind = if self.eat(next) { matched } else { single };
        self.push(kind);
    }

    /// `==`, `&&`, `||`; the single character is illegal and reported with what follows it.
    fn pair_or_symbol(&mut self, next: char, kind: TokenKind) -> Result<(), ExprError> {
        if self.eat(next) {
            self.push(kind);
            return Ok(());
        }
        self.identifier()
    }

    fn advance_while(&mut self, keep: impl Fn(char) -> bool) {
        while let Some(c) = self.peek() {
            if !keep(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn lexeme(&self) -> &str {
        self.source.get(self.start..self.pos).unwrap_or("")
    }

    fn unexpected(&self, symbol: &str) -> ExprError {
        ExprError::located(
            ErrorKind::Lexing,
            Reason::UnexpectedSymbol,
            "Unexpected symbol",
            symbol,
            self.source,
            self.start,
        )
    }

    fn number(&mut self) -> Result<(), ExprError> {
        self.advance_while(|c| !is_boundary(c) || c == '.');
        let value = parse_number(self.lexeme());
        if value.is_nan() {
            return Err(self.unexpected(self.lexeme()));
        }
        self.push(TokenKind::Number(value));
        Ok(())
    }

    fn string(&mut self) -> Result<(), ExprError> {
        loop {
            match self.peek() {
                None => {
                    let rest = self.source.get(self.start..).unwrap_or("");
                    return Err(self.unexpected(rest));
                }
                Some('\'') if self.peek_second() == Some('\'') => self.pos += 2,
                Some('\'') => break,
                Some(c) => self.pos += c.len_utf8(),
            }
        }
        self.pos += 1;
        let raw = self.source.get(self.start + 1..self.pos - 1).unwrap_or("");
        let value = raw.replace("''", "'");
        self.push(TokenKind::String(value));
        Ok(())
    }

    fn identifier(&mut self) -> Result<(), ExprError> {
        self.advance_while(|c| !is_boundary(c));
        let lexeme = self.lexeme();
        let kind = match lexeme {
            _ if self.previous() == Some(&TokenKind::Dot) => TokenKind::Identifier,
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            "null" => TokenKind::Null,
            "NaN" => TokenKind::Number(f64::NAN),
            "Infinity" => TokenKind::Number(f64::INFINITY),
            _ => TokenKind::Identifier,
        };
        if !is_legal_identifier(lexeme) {
            return Err(self.unexpected(lexeme));
        }
        self.push(kind);
        Ok(())
    }
}

fn is_boundary(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|'
    ) || is_js_space(c)
}

fn is_legal_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        lex(source).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn dot_after_identifier_is_an_operator() {
        assert_eq!(
            kinds("a.b"),
            vec![
                TokenKind::Identifier,
                TokenKind::Dot,
                TokenKind::Identifier,
                TokenKind::Eof
            ]
        );
        assert_eq!(kinds(".5"), vec![TokenKind::Number(0.5), TokenKind::Eof]);
        assert_eq!(kinds("a.true")[2], TokenKind::Identifier);
    }

    #[test]
    fn strings_unescape_every_doubled_quote() {
        assert_eq!(kinds("'a''b''c'")[0], TokenKind::String("a'b'c".into()));
    }

    #[test]
    fn tokens_carry_byte_positions() {
        let tokens = lex("ä == 'x'").unwrap_err();
        assert_eq!(tokens.offset, 0);
        let tokens = lex("a  == 'é'").unwrap();
        assert_eq!((tokens[1].start, tokens[1].end), (3, 5));
        assert_eq!((tokens[2].start, tokens[2].end), (6, 10));
    }

    #[test]
    fn illegal_symbols_report_upstream_messages() {
        let err = lex("1 =2 =3").unwrap_err();
        assert_eq!(
            err.message,
            "Unexpected symbol: '=2'. Located at position 3 within expression: 1 =2 =3"
        );
        assert_eq!(err.kind, ErrorKind::Lexing);
    }
}
