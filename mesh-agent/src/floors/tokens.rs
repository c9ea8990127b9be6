//! Rust source as the floor check needs it: identifiers, `::` and punctuation with their line;
//! comments, strings, characters and lifetimes are skipped.

/// One token and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub line: usize,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Ident(String),
    /// A string literal's text as written (escapes kept).
    Str(String),
    PathSep,
    Punct(char),
}

impl Token {
    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            Kind::Ident(name) => Some(name),
            _ => None,
        }
    }

    pub fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

/// The tokens of `src`.
pub(super) fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        chars,
        at: 0,
        line: 1,
        out: Vec::new(),
    };
    while lexer.at < lexer.chars.len() {
        lexer.step();
    }
    lexer.out
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
    out: Vec<Token>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> char {
        self.chars.get(self.at + ahead).copied().unwrap_or('\0')
    }

    fn bump(&mut self) -> char {
        let c = self.peek(0);
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        c
    }

    fn step(&mut self) {
        match (self.peek(0), self.peek(1)) {
            ('/', '/') => self.skip_while(|c| c != '\n'),
            ('/', '*') => self.block_comment(),
            ('"', _) => self.string(),
            ('r', '"') | ('r', '#') | ('b', '"') => self.prefixed_string(),
            ('b', '\'') => {
                self.bump();
                self.quote();
            }
            ('\'', _) => self.quote(),
            (':', ':') => {
                self.push(Kind::PathSep);
                self.at += 2;
            }
            (c, _) if c.is_alphanumeric() || c == '_' => self.ident(),
            (c, _) if c.is_whitespace() => {
                self.bump();
            }
            (c, _) => {
                self.push(Kind::Punct(c));
                self.bump();
            }
        }
    }

    fn push(&mut self, kind: Kind) {
        self.out.push(Token {
            line: self.line,
            kind,
        });
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.at < self.chars.len() && keep(self.peek(0)) {
            self.bump();
        }
    }

    fn block_comment(&mut self) {
        let mut depth = 0;
        while self.at < self.chars.len() {
            match (self.peek(0), self.peek(1)) {
                ('/', '*') => depth += 1,
                ('*', '/') => depth -= 1,
                _ => {
                    self.bump();
                    continue;
                }
            }
            self.bump();
            self.bump();
            if depth == 0 {
                return;
            }
        }
    }

    fn string(&mut self) {
        let line = self.line;
        self.bump();
        let start = self.at;
        while self.at < self.chars.len() {
            match self.bump() {
                '\\' => {
                    self.bump();
                }
                '"' => break,
                _ => {}
            }
        }
        let text = self.chars[start..self.at.saturating_sub(1)]
            .iter()
            .collect();
        self.out.push(Token {
            line,
            kind: Kind::Str(text),
        });
    }

    /// `r"…"`, `r#"…"#`, `b"…"`, `br"…"`; an identifier such as `r#type` or `radius` otherwise.
    fn prefixed_string(&mut self) {
        let start = self.at;
        if self.peek(0) == 'b' {
            self.bump();
        }
        if self.peek(0) == '"' {
            return self.string();
        }
        self.bump();
        let mut hashes = 0;
        while self.peek(0) == '#' {
            hashes += 1;
            self.bump();
        }
        if self.peek(0) != '"' {
            self.at = start;
            return self.ident();
        }
        self.bump();
        let closing: String = std::iter::once('"')
            .chain((0..hashes).map(|_| '#'))
            .collect();
        while self.at < self.chars.len() {
            let rest: String = self.chars[self.at..].iter().take(closing.len()).collect();
            if rest == closing {
                self.at += closing.len();
                return;
            }
            self.bump();
        }
    }

    /// A character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime (`'a`).
    fn quote(&mut self) {
        self.bump();
        if self.peek(0) == '\\' {
            self.bump();
            self.bump();
            self.skip_while(|c| c != '\'');
            self.bump();
        } else if self.peek(1) == '\'' {
            self.bump();
            self.bump();
        } else {
            self.skip_while(|c| c.is_alphanumeric() || c == '_');
        }
    }

    fn ident(&mut self) {
        let start = self.at;
        if self.peek(0) == 'r' && self.peek(1) == '#' {
            self.at += 2;
        }
        self.skip_while(|c| c.is_alphanumeric() || c == '_');
        let name: String = self.chars[start..self.at].iter().collect();
        self.out.push(Token {
            line: self.line,
            kind: Kind::Ident(name.trim_start_matches("r#").to_string()),
        });
    }
}
