//! DynamoDB's expression language: one lexer and parser for condition, filter, key-condition,
//! projection and update expressions, producing an AST with `#name` placeholders substituted.
//!
//! ```text
//! condition := or
//! or        := and (OR and)*
//! and       := not (AND not)*
//! not       := NOT not | '(' condition ')' | function | operand rest
//! rest      := cmp operand | BETWEEN operand AND operand | IN '(' operand (',' operand)* ')'
//! function  := attribute_exists(path) | attribute_not_exists(path) | attribute_type(path, operand)
//!            | begins_with(operand, operand) | contains(operand, operand)
//! operand   := path | :value | size(path)
//! path      := element ('.' element | '[' digits ']')*      element := name | #name
//! update    := (SET action,… | REMOVE path,… | ADD path :v,… | DELETE path :v,…)+  each once
//! action    := path '=' value (('+' | '-') value)?
//! value     := path | :v | if_not_exists(path, value) | list_append(value, value)
//! ```
//! Keywords are case-insensitive, function names are not. Precedence, tightest first:
//! comparisons/BETWEEN/IN/functions, NOT, AND, OR. Evaluation lives elsewhere; this module only
//! parses and validates, with AWS's `ValidationException` messages.

use std::collections::{BTreeSet, HashMap};

use super::reserved::is_reserved;

/// `ExpressionAttributeNames`.
pub type Names = HashMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<PathElem>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathElem {
    /// The real attribute name (placeholders already substituted).
    Attr(String),
    Index(u32),
}

impl std::fmt::Display for Path {
    /// AWS's rendering in messages: `[a, b, [2]]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| match e {
                PathElem::Attr(a) => a.clone(),
                PathElem::Index(i) => format!("[{i}]"),
            })
            .collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Path(Path),
    /// A value placeholder, including its `:`.
    Value(String),
    Size(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Compare(Operand, CmpOp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    AttributeExists(Path),
    AttributeNotExists(Path),
    AttributeType(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    pub set: Vec<(Path, SetValue)>,
    pub remove: Vec<Path>,
    pub add: Vec<(Path, String)>,
    pub delete: Vec<(Path, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetValue {
    Operand(SetOperand),
    Plus(SetOperand, SetOperand),
    Minus(SetOperand, SetOperand),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOperand {
    Path(Path),
    Value(String),
    IfNotExists(Path, Box<SetOperand>),
    ListAppend(Box<SetOperand>, Box<SetOperand>),
}

/// One condition of a key-condition expression, on a top-level attribute. The caller matches
/// the attributes to the table's partition and sort keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPredicate {
    Cmp(CmpOp, String),
    Between(String, String),
    BeginsWith(String),
}

/// The placeholders one request's expressions used, so the caller can report unused ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub names: BTreeSet<String>,
    pub values: BTreeSet<String>,
}

/// What a request defines: its `ExpressionAttributeNames` and the keys of its
/// `ExpressionAttributeValues`.
pub struct Placeholders<'a> {
    pub names: &'a Names,
    pub values: &'a BTreeSet<String>,
}

/// A validation failure; the message is what AWS sends in the `ValidationException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub message: String,
}

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Which expression parameter is being parsed (it names the parameter in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Condition,
    Filter,
    KeyCondition,
    Projection,
    Update,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Condition => "ConditionExpression",
            Kind::Filter => "FilterExpression",
            Kind::KeyCondition => "KeyConditionExpression",
            Kind::Projection => "ProjectionExpression",
            Kind::Update => "UpdateExpression",
        }
    }
}

pub fn parse_condition(
    kind: Kind,
    expr: &str,
    ph: &Placeholders<'_>,
    usage: &mut Usage,
) -> Result<Condition, ExprError> {
    let mut p = Parser::new(kind, expr, ph, usage)?;
    let c = p.condition()?;
    p.end()?;
    Ok(c)
}

pub fn parse_projection(expr: &str, ph: &Placeholders<'_>, usage: &mut Usage) -> Result<Vec<Path>, ExprError> {
    let mut p = Parser::new(Kind::Projection, expr, ph, usage)?;
    let mut paths = vec![p.path()?];
    while p.eat(&Tok::Comma) {
        paths.push(p.path()?);
    }
    p.end()?;
    Ok(paths)
}

pub fn parse_update(expr: &str, ph: &Placeholders<'_>, usage: &mut Usage) -> Result<Update, ExprError> {
    let mut p = Parser::new(Kind::Update, expr, ph, usage)?;
    let u = p.update()?;
    p.end()?;
    Ok(u)
}

/// A key condition: one or two predicates on top-level attributes, joined by AND.
pub fn parse_key_condition(
    expr: &str,
    ph: &Placeholders<'_>,
    usage: &mut Usage,
) -> Result<Vec<(String, KeyPredicate)>, ExprError> {
    let mut p = Parser::new(Kind::KeyCondition, expr, ph, usage)?;
    let c = p.condition()?;
    p.end()?;
    let mut out = Vec::new();
    key_parts(c, &mut out)?;
    if out.len() > 2 {
        return Err(err(
            Kind::KeyCondition,
            "The expression has too many conditions; a key condition names at most two key attributes",
        ));
    }
    Ok(out)
}

fn key_parts(c: Condition, out: &mut Vec<(String, KeyPredicate)>) -> Result<(), ExprError> {
    let bad = |op: &str| ExprError { message: format!("Invalid operator used in KeyConditionExpression: {op}") };
    let attr = |o: Operand| -> Result<String, ExprError> {
        match o {
            Operand::Path(Path(mut elems)) if elems.len() == 1 => match elems.pop() {
                Some(PathElem::Attr(a)) => Ok(a),
                _ => Err(err(Kind::KeyCondition, "KeyConditionExpressions must only contain top-level attributes")),
            },
            Operand::Path(_) => {
                Err(err(Kind::KeyCondition, "KeyConditionExpressions cannot contain nested key attributes"))
            }
            Operand::Size(_) => Err(bad("size")),
            Operand::Value(_) => Err(err(
                Kind::KeyCondition,
                "Invalid condition in KeyConditionExpression: the left side must be an attribute",
            )),
        }
    };
    let value = |o: Operand| -> Result<String, ExprError> {
        match o {
            Operand::Value(v) => Ok(v),
            _ => Err(err(
                Kind::KeyCondition,
                "Invalid condition in KeyConditionExpression: the right side must be a value",
            )),
        }
    };
    match c {
        Condition::And(a, b) => {
            key_parts(*a, out)?;
            key_parts(*b, out)
        }
        Condition::Compare(_, CmpOp::Ne, _) => Err(bad("<>")),
        Condition::Compare(l, op, r) => {
            out.push((attr(l)?, KeyPredicate::Cmp(op, value(r)?)));
            Ok(())
        }
        Condition::Between(l, lo, hi) => {
            out.push((attr(l)?, KeyPredicate::Between(value(lo)?, value(hi)?)));
            Ok(())
        }
        Condition::BeginsWith(l, r) => {
            out.push((attr(l)?, KeyPredicate::BeginsWith(value(r)?)));
            Ok(())
        }
        Condition::Or(..) => Err(bad("OR")),
        Condition::Not(_) => Err(bad("NOT")),
        Condition::In(..) => Err(bad("IN")),
        Condition::AttributeExists(_) => Err(bad("attribute_exists")),
        Condition::AttributeNotExists(_) => Err(bad("attribute_not_exists")),
        Condition::AttributeType(..) => Err(bad("attribute_type")),
        Condition::Contains(..) => Err(bad("contains")),
    }
}

/// After every expression of a request is parsed: names or values given but never used.
pub fn check_unused(usage: &Usage, ph: &Placeholders<'_>) -> Result<(), ExprError> {
    let unused_names: Vec<&String> = {
        let mut v: Vec<&String> = ph.names.keys().filter(|k| !usage.names.contains(*k)).collect();
        v.sort();
        v
    };
    if !unused_names.is_empty() {
        let keys: Vec<&str> = unused_names.iter().map(|s| s.as_str()).collect();
        return Err(ExprError {
            message: format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                keys.join(", ")
            ),
        });
    }
    let unused_values: Vec<&str> =
        ph.values.iter().filter(|k| !usage.values.contains(*k)).map(String::as_str).collect();
    if !unused_values.is_empty() {
        return Err(ExprError {
            message: format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused_values.join(", ")
            ),
        });
    }
    Ok(())
}

fn err(kind: Kind, why: &str) -> ExprError {
    ExprError { message: format!("Invalid {}: {why}", kind.name()) }
}

// ---- lexer ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Name(String),
    Value(String),
    Number(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    Op(CmpOp),
    Eof,
}

/// A token and where it stands in the source (byte range).
#[derive(Debug, Clone)]
struct Spanned {
    tok: Tok,
    start: usize,
    end: usize,
}

fn lex(kind: Kind, src: &str) -> Result<Vec<Spanned>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |start: usize| {
        let mut j = start;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        j
    };
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let (tok, end) = match c {
            b'(' => (Tok::LParen, i + 1),
            b')' => (Tok::RParen, i + 1),
            b'[' => (Tok::LBracket, i + 1),
            b']' => (Tok::RBracket, i + 1),
            b',' => (Tok::Comma, i + 1),
            b'.' => (Tok::Dot, i + 1),
            b'+' => (Tok::Plus, i + 1),
            b'-' => (Tok::Minus, i + 1),
            b'=' => (Tok::Op(CmpOp::Eq), i + 1),
            b'<' if bytes.get(i + 1) == Some(&b'>') => (Tok::Op(CmpOp::Ne), i + 2),
            b'<' if bytes.get(i + 1) == Some(&b'=') => (Tok::Op(CmpOp::Le), i + 2),
            b'<' => (Tok::Op(CmpOp::Lt), i + 1),
            b'>' if bytes.get(i + 1) == Some(&b'=') => (Tok::Op(CmpOp::Ge), i + 2),
            b'>' => (Tok::Op(CmpOp::Gt), i + 1),
            b'#' | b':' => {
                let j = word(i + 1);
                if j == i + 1 {
                    return Err(syntax(kind, src, (start, i + 1)));
                }
                let text = src[i..j].to_string();
                (if c == b'#' { Tok::Name(text) } else { Tok::Value(text) }, j)
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                if j < bytes.len() && (bytes[j].is_ascii_alphabetic() || bytes[j] == b'_') {
                    let j = word(j);
                    (Tok::Ident(src[i..j].to_string()), j)
                } else {
                    (Tok::Number(src[i..j].to_string()), j)
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let j = word(i);
                (Tok::Ident(src[i..j].to_string()), j)
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(
                    kind,
                    &format!("Syntax error; token: \"{ch}\", near: \"{}\"", near(src, i, i + ch.len_utf8())),
                ));
            }
        };
        out.push(Spanned { tok, start, end });
        i = end;
    }
    out.push(Spanned { tok: Tok::Eof, start: src.len(), end: src.len() });
    Ok(out)
}

/// The source around a token: its neighbours on both sides, as AWS quotes them.
fn near(src: &str, start: usize, end: usize) -> String {
    let before = src[..start].trim_end();
    let from = before.rfind(char::is_whitespace).map(|p| p + 1).unwrap_or(0);
    let after = &src[end..];
    let trimmed = after.trim_start();
    let skipped = after.len() - trimmed.len();
    let to = trimmed.find(char::is_whitespace).map(|p| end + skipped + p).unwrap_or(src.len());
    src[from..to].to_string()
}

fn syntax(kind: Kind, src: &str, span: (usize, usize)) -> ExprError {
    let token = if span.0 >= src.len() { "<EOF>".to_string() } else { src[span.0..span.1].to_string() };
    err(kind, &format!("Syntax error; token: \"{token}\", near: \"{}\"", near(src, span.0, span.1)))
}

// ---- parser ----

struct Parser<'a, 'u> {
    kind: Kind,
    src: &'a str,
    toks: Vec<Spanned>,
    pos: usize,
    ph: &'a Placeholders<'a>,
    usage: &'u mut Usage,
}

const KEYWORDS: &[&str] = &["AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"];

impl<'a, 'u> Parser<'a, 'u> {
    fn new(kind: Kind, src: &'a str, ph: &'a Placeholders<'a>, usage: &'u mut Usage) -> Result<Self, ExprError> {
        if src.trim().is_empty() {
            return Err(err(kind, "The expression can not be empty;"));
        }
        Ok(Parser { kind, src, toks: lex(kind, src)?, pos: 0, ph, usage })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek2(&self) -> &Tok {
        &self.toks[(self.pos + 1).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == t {
            self.next();
            true
        } else {
            false
        }
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.is_keyword(word) {
            self.next();
            true
        } else {
            false
        }
    }

    /// A syntax error at the current token.
    fn unexpected(&self) -> ExprError {
        let s = &self.toks[self.pos];
        syntax(self.kind, self.src, (s.start, s.end))
    }

    fn expect(&mut self, t: &Tok) -> Result<(), ExprError> {
        if self.eat(t) { Ok(()) } else { Err(self.unexpected()) }
    }

    fn end(&mut self) -> Result<(), ExprError> {
        if *self.peek() == Tok::Eof { Ok(()) } else { Err(self.unexpected()) }
    }

    fn value(&mut self, v: String) -> Result<String, ExprError> {
        if !self.ph.values.contains(&v) {
            return Err(err(
                self.kind,
                &format!("An expression attribute value used in expression is not defined; attribute value: {v}"),
            ));
        }
        self.usage.values.insert(v.clone());
        Ok(v)
    }

    fn element(&mut self) -> Result<String, ExprError> {
        match self.peek().clone() {
            Tok::Name(n) => {
                self.next();
                match self.ph.names.get(&n) {
                    Some(real) => {
                        self.usage.names.insert(n);
                        Ok(real.clone())
                    }
                    None => Err(err(
                        self.kind,
                        &format!(
                            "An expression attribute name used in the document path is not defined; attribute name: {n}"
                        ),
                    )),
                }
            }
            Tok::Ident(w) if !w.starts_with(|c: char| c.is_ascii_digit()) => {
                if is_reserved(&w) {
                    return Err(err(
                        self.kind,
                        &format!("Attribute name is a reserved keyword; reserved keyword: {w}"),
                    ));
                }
                self.next();
                Ok(w)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn path(&mut self) -> Result<Path, ExprError> {
        let mut elems = vec![PathElem::Attr(self.element()?)];
        loop {
            if self.eat(&Tok::Dot) {
                elems.push(PathElem::Attr(self.element()?));
            } else if self.eat(&Tok::LBracket) {
                let Tok::Number(n) = self.peek().clone() else { return Err(self.unexpected()) };
                self.next();
                let index = n.parse::<u32>().map_err(|_| err(self.kind, "List index is too large"))?;
                self.expect(&Tok::RBracket)?;
                elems.push(PathElem::Index(index));
            } else {
                return Ok(Path(elems));
            }
        }
    }

    fn condition(&mut self) -> Result<Condition, ExprError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR") {
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ExprError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND") {
            let right = self.not()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, ExprError> {
        if self.eat_keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        if self.eat(&Tok::LParen) {
            let c = self.condition()?;
            self.expect(&Tok::RParen)?;
            return Ok(c);
        }
        if let (Tok::Ident(f), Tok::LParen) = (self.peek().clone(), self.peek2())
            && f != "size"
        {
            return self.function(&f);
        }
        let left = self.operand()?;
        if let Tok::Op(op) = self.peek().clone() {
            self.next();
            return Ok(Condition::Compare(left, op, self.operand()?));
        }
        if self.eat_keyword("BETWEEN") {
            let lo = self.operand()?;
            if !self.eat_keyword("AND") {
                return Err(self.unexpected());
            }
            return Ok(Condition::Between(left, lo, self.operand()?));
        }
        if self.eat_keyword("IN") {
            self.expect(&Tok::LParen)?;
            let mut list = vec![self.operand()?];
            while self.eat(&Tok::Comma) {
                list.push(self.operand()?);
            }
            self.expect(&Tok::RParen)?;
            if list.len() > 100 {
                return Err(err(
                    self.kind,
                    "The IN operator is provided with too many operands; number of operands: 101",
                ));
            }
            return Ok(Condition::In(left, list));
        }
        Err(self.unexpected())
    }

    fn function(&mut self, name: &str) -> Result<Condition, ExprError> {
        self.next();
        self.expect(&Tok::LParen)?;
        let c = match name {
            "attribute_exists" => Condition::AttributeExists(self.path()?),
            "attribute_not_exists" => Condition::AttributeNotExists(self.path()?),
            "attribute_type" => {
                let p = self.path()?;
                self.expect(&Tok::Comma)?;
                Condition::AttributeType(p, self.operand()?)
            }
            "begins_with" | "contains" => {
                let a = self.operand()?;
                self.expect(&Tok::Comma)?;
                let b = self.operand()?;
                if name == "contains" { Condition::Contains(a, b) } else { Condition::BeginsWith(a, b) }
            }
            "size" | "if_not_exists" | "list_append" => {
                return Err(err(
                    self.kind,
                    &format!("The function is not allowed to be used this way in an expression; function: {name}"),
                ));
            }
            other => return Err(err(self.kind, &format!("Invalid function name; function: {other}"))),
        };
        self.expect(&Tok::RParen)?;
        Ok(c)
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        match self.peek().clone() {
            Tok::Value(v) => {
                self.next();
                Ok(Operand::Value(self.value(v)?))
            }
            Tok::Ident(f) if f == "size" && *self.peek2() == Tok::LParen => {
                self.next();
                self.next();
                let p = self.path()?;
                self.expect(&Tok::RParen)?;
                Ok(Operand::Size(p))
            }
            Tok::Ident(f) if *self.peek2() == Tok::LParen => Err(err(
                self.kind,
                &format!("The function is not allowed to be used this way in an expression; function: {f}"),
            )),
            Tok::Ident(w) if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&w)) => Err(self.unexpected()),
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    fn update(&mut self) -> Result<Update, ExprError> {
        let mut u = Update::default();
        let mut seen: Vec<&str> = Vec::new();
        let mut paths: Vec<Path> = Vec::new();
        loop {
            let clause = match self.peek() {
                Tok::Ident(w) => ["SET", "REMOVE", "ADD", "DELETE"].into_iter().find(|k| k.eq_ignore_ascii_case(w)),
                Tok::Eof if !seen.is_empty() => break,
                _ => None,
            };
            let Some(clause) = clause else { return Err(self.unexpected()) };
            if seen.contains(&clause) {
                return Err(err(
                    self.kind,
                    &format!("The \"{clause}\" section can only be used once in an update expression;"),
                ));
            }
            seen.push(clause);
            self.next();
            loop {
                let path = self.path()?;
                if let Some(other) = paths.iter().find(|p| overlaps(p, &path)) {
                    return Err(err(
                        self.kind,
                        &format!(
                            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {other}, path two: {path}"
                        ),
                    ));
                }
                paths.push(path.clone());
                match clause {
                    "SET" => {
                        self.expect(&Tok::Op(CmpOp::Eq))?;
                        let a = self.set_operand()?;
                        let v = if self.eat(&Tok::Plus) {
                            SetValue::Plus(a, self.set_operand()?)
                        } else if self.eat(&Tok::Minus) {
                            SetValue::Minus(a, self.set_operand()?)
                        } else {
                            SetValue::Operand(a)
                        };
                        u.set.push((path, v));
                    }
                    "REMOVE" => u.remove.push(path),
                    _ => {
                        let Tok::Value(v) = self.peek().clone() else { return Err(self.unexpected()) };
                        self.next();
                        let v = self.value(v)?;
                        if clause == "ADD" { u.add.push((path, v)) } else { u.delete.push((path, v)) }
                    }
                }
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        Ok(u)
    }

    fn set_operand(&mut self) -> Result<SetOperand, ExprError> {
        match self.peek().clone() {
            Tok::Value(v) => {
                self.next();
                Ok(SetOperand::Value(self.value(v)?))
            }
            Tok::Ident(f) if *self.peek2() == Tok::LParen => {
                self.next();
                self.next();
                let out = match f.as_str() {
                    "if_not_exists" => {
                        let p = self.path()?;
                        self.expect(&Tok::Comma)?;
                        SetOperand::IfNotExists(p, Box::new(self.set_operand()?))
                    }
                    "list_append" => {
                        let a = self.set_operand()?;
                        self.expect(&Tok::Comma)?;
                        SetOperand::ListAppend(Box::new(a), Box::new(self.set_operand()?))
                    }
                    "attribute_exists"
                    | "attribute_not_exists"
                    | "attribute_type"
                    | "begins_with"
                    | "contains"
                    | "size" => {
                        return Err(err(
                            self.kind,
                            &format!("The function is not allowed in an update expression; function: {f}"),
                        ));
                    }
                    other => return Err(err(self.kind, &format!("Invalid function name; function: {other}"))),
                };
                self.expect(&Tok::RParen)?;
                Ok(out)
            }
            _ => Ok(SetOperand::Path(self.path()?)),
        }
    }
}

/// Two update paths overlap when one is a prefix of the other.
fn overlaps(a: &Path, b: &Path) -> bool {
    let n = a.0.len().min(b.0.len());
    a.0[..n] == b.0[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)]) -> Names {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn values(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    fn cond(expr: &str) -> Result<Condition, ExprError> {
        let (n, v) = (names(&[("#s", "status"), ("#n", "na me")]), values(&[":a", ":b", ":c"]));
        parse_condition(Kind::Condition, expr, &Placeholders { names: &n, values: &v }, &mut Usage::default())
    }

    fn p(s: &str) -> Path {
        Path(s.split('.').map(|e| PathElem::Attr(e.to_string())).collect())
    }

    fn val(v: &str) -> Operand {
        Operand::Value(v.to_string())
    }

    #[test]
    fn precedence_is_comparison_then_not_then_and_then_or() {
        let c = cond("a = :a OR b = :b AND NOT c = :c").unwrap();
        let expected = Condition::Or(
            Box::new(Condition::Compare(Operand::Path(p("a")), CmpOp::Eq, val(":a"))),
            Box::new(Condition::And(
                Box::new(Condition::Compare(Operand::Path(p("b")), CmpOp::Eq, val(":b"))),
                Box::new(Condition::Not(Box::new(Condition::Compare(Operand::Path(p("c")), CmpOp::Eq, val(":c"))))),
            )),
        );
        assert_eq!(c, expected);
        let grouped = cond("(a = :a or b = :b) and c = :c").unwrap();
        assert!(matches!(grouped, Condition::And(l, _) if matches!(*l, Condition::Or(..))));
    }

    #[test]
    fn every_comparison_and_function_form_parses() {
        for (expr, ok) in [
            ("a <> :a", true),
            ("a < :a AND a <= :a AND a > :a AND a >= :a", true),
            ("a BETWEEN :a AND :b", true),
            ("a IN (:a, :b, :c)", true),
            ("attribute_exists(a.b[2].c)", true),
            ("attribute_not_exists(#s)", true),
            ("attribute_type(a, :a)", true),
            ("begins_with(a, :a)", true),
            ("contains(#n, :a)", true),
            ("size(a) > :a", true),
            ("NOT attribute_exists(a) and not contains(b, :b)", true),
            ("a = b", true),
            ("a.b[0][1] = :a", true),
        ] {
            assert_eq!(cond(expr).is_ok(), ok, "{expr}: {:?}", cond(expr));
        }
        let c = cond("a.b[2].#s = :a").unwrap();
        let Condition::Compare(Operand::Path(path), ..) = c else { panic!() };
        assert_eq!(
            path.0,
            vec![
                PathElem::Attr("a".into()),
                PathElem::Attr("b".into()),
                PathElem::Index(2),
                PathElem::Attr("status".into())
            ]
        );
    }

    #[test]
    fn updates_have_every_clause_and_function() {
        let (n, v) = (names(&[("#c", "count")]), values(&[":one", ":l", ":z", ":s"]));
        let mut usage = Usage::default();
        let u = parse_update(
            "SET #c = #c + :one, lst = list_append(if_not_exists(lst, :z), :l), x = y - :one REMOVE stale, gone[1] ADD n :one DELETE tags :s",
            &Placeholders { names: &n, values: &v },
            &mut usage,
        )
        .unwrap();
        assert_eq!(u.set.len(), 3);
        assert_eq!(u.remove.len(), 2);
        assert_eq!(u.add, vec![(p("n"), ":one".to_string())]);
        assert_eq!(u.delete, vec![(p("tags"), ":s".to_string())]);
        assert!(matches!(&u.set[1].1, SetValue::Operand(SetOperand::ListAppend(..))));
        assert_eq!(usage.names, ["#c".to_string()].into());
        assert_eq!(usage.values.len(), 4);
        // Clauses in any order, keywords in any case.
        assert!(
            parse_update("remove a set b = :one", &Placeholders { names: &n, values: &v }, &mut Usage::default())
                .is_ok()
        );
    }

    #[test]
    fn key_conditions_yield_attribute_predicates() {
        let (n, v) = (names(&[("#pk", "pk")]), values(&[":p", ":a", ":b"]));
        let ph = Placeholders { names: &n, values: &v };
        let parts = parse_key_condition("#pk = :p AND sk BETWEEN :a AND :b", &ph, &mut Usage::default()).unwrap();
        assert_eq!(
            parts,
            vec![
                ("pk".to_string(), KeyPredicate::Cmp(CmpOp::Eq, ":p".into())),
                ("sk".to_string(), KeyPredicate::Between(":a".into(), ":b".into()))
            ]
        );
        let parts = parse_key_condition("begins_with(sk, :a) and #pk = :p", &ph, &mut Usage::default()).unwrap();
        assert_eq!(parts[0], ("sk".to_string(), KeyPredicate::BeginsWith(":a".into())));
    }

    #[test]
    fn projections_are_path_lists() {
        let (n, v) = (names(&[("#d", "data")]), values(&[]));
        let paths =
            parse_projection("a, b.c, #d[0]", &Placeholders { names: &n, values: &v }, &mut Usage::default()).unwrap();
        assert_eq!(paths.len(), 3);
        assert_eq!(paths[2].to_string(), "[data, [0]]");
    }

    /// Every validation message, as AWS words it.
    #[test]
    fn validation_messages() {
        let (n, v) = (names(&[("#s", "status"), ("#unused", "x")]), values(&[":a", ":b", ":never"]));
        let ph = Placeholders { names: &n, values: &v };
        let c = |e: &str| parse_condition(Kind::Condition, e, &ph, &mut Usage::default()).unwrap_err().message;
        let u = |e: &str| parse_update(e, &ph, &mut Usage::default()).unwrap_err().message;
        let k = |e: &str| parse_key_condition(e, &ph, &mut Usage::default()).unwrap_err().message;
        let mut out = String::new();
        for (label, message) in [
            ("empty", c("  ")),
            ("reserved word", c("status = :a")),
            ("undefined name", c("#nope = :a")),
            ("undefined value", c("a = :zz")),
            ("syntax: doubled operator", c("a = = :a")),
            ("syntax: dangling AND", c("a = :a AND")),
            ("syntax: bad character", c("a ! :a")),
            ("unknown function", c("starts_with(a, :a)")),
            ("update function in a condition", c("if_not_exists(a, :a)")),
            ("SET twice", u("SET a = :a SET b = :b")),
            ("overlapping paths", u("SET a = :a REMOVE a.b")),
            ("same path twice", u("SET a = :a, a = :b")),
            ("condition function in an update", u("SET a = size(b)")),
            ("key condition OR", k("pk = :a OR sk = :b")),
            ("key condition NOT", k("NOT pk = :a")),
            ("key condition <>", k("pk <> :a")),
            ("key condition IN", k("pk IN (:a)")),
            ("key condition nested path", k("a.b = :a")),
        ] {
            out.push_str(&format!("{label}: {message}\n"));
        }
        let mut usage = Usage::default();
        parse_condition(Kind::Condition, "#s = :a AND b = :b", &ph, &mut usage).unwrap();
        out.push_str(&format!("unused name: {}\n", check_unused(&usage, &ph).unwrap_err()));
        let no_names = Names::new();
        let ph2 = Placeholders { names: &no_names, values: &v };
        let mut usage = Usage::default();
        parse_condition(Kind::Filter, "a = :a AND b = :b", &ph2, &mut usage).unwrap();
        out.push_str(&format!("unused value: {}\n", check_unused(&usage, &ph2).unwrap_err()));
        insta::assert_snapshot!(out);
    }
}
