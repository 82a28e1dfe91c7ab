//! A CQL2 text filter (`filter=...&filter-lang=cql2-text`, OGC API - Features Part 3)
//! for the common cases: comparisons (`=`, `<>`, `<`, `<=`, `>`, `>=`) of a property
//! with a literal, `LIKE` (`%` and `_`), `IN (...)`, `BETWEEN a AND b`, `IS [NOT]
//! NULL`, `AND`/`OR`/`NOT` and parentheses; string (`'...'`, `''` for a quote),
//! number, `TRUE`/`FALSE`, `DATE('YYYY-MM-DD')` and `TIMESTAMP('...Z')` literals.
//! No spatial or temporal operators, arithmetic or functions.
//!
//! A small recursive-descent parser, hand-written: the one crate for CQL2 (`cql2`)
//! brings JSON Schema validation and geometry stacks this server does not need.
//! Everything is bounded (length, nesting depth, number of terms) and a syntax
//! error names its character position. Properties are checked against the
//! collection's schema when parsing, with their types, so a typo is a 400, not an
//! empty result. Evaluation follows SQL's three-valued logic: a comparison with a
//! null property is unknown, and only features for which the filter is true match.

use std::cmp::Ordering;

use serde_json::Value;

use crate::collections::{CollectionDef, Match, PropDef, PropType};

/// The longest filter accepted, in characters.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting of parentheses and NOTs.
pub const MAX_DEPTH: usize = 32;
/// The most predicates and list items.
pub const MAX_TERMS: usize = 256;

/// Why a filter is refused (always the client's fault: a 400).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CqlError {
    #[error("filter: at character {pos}: {msg}")]
    Syntax { pos: usize, msg: String },
    #[error("filter: {0}")]
    Limit(String),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    /// `DATE('...')` or `TIMESTAMP('...')`: compared as ISO 8601 text.
    Time(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn flip(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            o => o,
        }
    }
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
        }
    }
}

/// A parsed filter; properties are names of the collection's schema (or `id`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(&'static str, Op, Lit),
    Like(&'static str, String),
    In(&'static str, Vec<Lit>),
    Between(&'static str, Lit, Lit),
    IsNull(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

fn err<T>(pos: usize, msg: impl Into<String>) -> Result<T, CqlError> {
    Err(CqlError::Syntax {
        pos,
        msg: msg.into(),
    })
}

/// Tokens with their 1-based character positions.
fn lex(s: &str) -> Result<Vec<(Tok, usize)>, CqlError> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let pos = i + 1;
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        if ch == '\'' || ch == '"' {
            let mut v = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => return err(pos, format!("unterminated {ch}")),
                    Some(&q) if q == ch => {
                        if c.get(i + 1) == Some(&ch) {
                            v.push(ch);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&x) => {
                        v.push(x);
                        i += 1;
                    }
                }
            }
            out.push((
                if ch == '\'' {
                    Tok::Str(v)
                } else {
                    Tok::Quoted(v)
                },
                pos,
            ));
            continue;
        }
        let digit_next = c
            .get(i + 1)
            .is_some_and(|d| d.is_ascii_digit() || *d == '.');
        if ch.is_ascii_digit() || (ch == '.' && digit_next) || (ch == '-' && digit_next) {
            let start = i;
            i += 1;
            while i < c.len()
                && (c[i].is_ascii_digit()
                    || c[i] == '.'
                    || c[i] == 'e'
                    || c[i] == 'E'
                    || ((c[i] == '-' || c[i] == '+') && matches!(c[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = c[start..i].iter().collect();
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => out.push((Tok::Num(v), pos)),
                _ => return err(pos, format!("\"{text}\" is not a number")),
            }
            continue;
        }
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || matches!(c[i], '_' | ':' | '.')) {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), pos));
            continue;
        }
        let two: String = c[i..(i + 2).min(c.len())].iter().collect();
        let sym = match two.as_str() {
            "<>" => Some("<>"),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "!=" => return err(pos, "use <> for \"not equal\""),
            _ => None,
        };
        if let Some(s) = sym {
            out.push((Tok::Sym(s), pos));
            i += 2;
            continue;
        }
        let one = match ch {
            '=' => "=",
            '<' => "<",
            '>' => ">",
            '(' => "(",
            ')' => ")",
            ',' => ",",
            _ => return err(pos, format!("unexpected character '{ch}'")),
        };
        out.push((Tok::Sym(one), pos));
        i += 1;
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    i: usize,
    end: usize,
    def: &'a CollectionDef,
    terms: usize,
}

/// The `id` pseudo-property (the feature id).
pub static ID: PropDef = PropDef {
    name: "id",
    ty: PropType::String,
    description: "Feature id",
    values: &[],
    nullable: false,
    date: false,
    datetime: false,
};

/// The property `name` of `def`: a property of its schema, `id`, or a filter
/// parameter that filters one property (e.g. `plot_id` for `parcel_id`).
pub fn property(def: &CollectionDef, name: &str) -> Option<&'static PropDef> {
    if name == "id" {
        return Some(&ID);
    }
    def.prop(name).or_else(|| match def.filter(name)?.matches {
        Match::Property(k) => def.prop(k),
        Match::Status => def.prop("status"),
        _ => None,
    })
}

fn kind(p: &PropDef) -> &'static str {
    match p.ty {
        PropType::Number | PropType::Integer => "a number",
        PropType::Boolean => "a boolean",
        PropType::String if p.date => "a date",
        PropType::String if p.datetime => "a date-time",
        PropType::String => "a string",
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |t| t.1)
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(k))
    }
    fn eat_keyword(&mut self, k: &str) -> bool {
        let yes = self.keyword(k);
        if yes {
            self.i += 1;
        }
        yes
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), CqlError> {
        if self.peek()
            == Some(&Tok::Sym(match s {
                "(" => "(",
                ")" => ")",
                _ => ",",
            }))
        {
            self.i += 1;
            Ok(())
        } else {
            err(self.pos(), format!("expected '{s}'"))
        }
    }
    fn term(&mut self) -> Result<(), CqlError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(CqlError::Limit(format!(
                "more than {MAX_TERMS} predicates and list items"
            )));
        }
        Ok(())
    }

    fn or(&mut self, depth: usize) -> Result<Expr, CqlError> {
        let mut v = vec![self.and(depth)?];
        while self.eat_keyword("OR") {
            v.push(self.and(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Or(v)
        })
    }
    fn and(&mut self, depth: usize) -> Result<Expr, CqlError> {
        let mut v = vec![self.not(depth)?];
        while self.eat_keyword("AND") {
            v.push(self.not(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::And(v)
        })
    }
    fn not(&mut self, depth: usize) -> Result<Expr, CqlError> {
        if depth > MAX_DEPTH {
            return Err(CqlError::Limit(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        if self.eat_keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        if self.peek() == Some(&Tok::Sym("(")) {
            self.i += 1;
            let e = self.or(depth + 1)?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        self.predicate()
    }

    /// A literal, or `None` when the next token is not one.
    fn literal(&mut self) -> Result<Option<Lit>, CqlError> {
        let lit = match self.peek().cloned() {
            Some(Tok::Str(s)) => Lit::Str(s),
            Some(Tok::Num(n)) => Lit::Num(n),
            Some(Tok::Ident(k)) if k.eq_ignore_ascii_case("TRUE") => Lit::Bool(true),
            Some(Tok::Ident(k)) if k.eq_ignore_ascii_case("FALSE") => Lit::Bool(false),
            Some(Tok::Ident(k))
                if k.eq_ignore_ascii_case("DATE") || k.eq_ignore_ascii_case("TIMESTAMP") =>
            {
                let date = k.eq_ignore_ascii_case("DATE");
                self.i += 1;
                self.expect_sym("(")?;
                let pos = self.pos();
                let Some(Tok::Str(s)) = self.peek().cloned() else {
                    return err(pos, format!("{k}(...) takes a quoted string"));
                };
                let ok = if date {
                    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok()
                } else {
                    chrono::DateTime::parse_from_rfc3339(&s).is_ok()
                };
                if !ok {
                    return err(pos, format!("'{s}' is not a valid {}", k.to_uppercase()));
                }
                self.i += 1;
                self.expect_sym(")")?;
                return Ok(Some(Lit::Time(s)));
            }
            _ => return Ok(None),
        };
        self.i += 1;
        Ok(Some(lit))
    }

    /// A property name, or `None` when the next token is not an identifier.
    fn property(&mut self) -> Result<Option<&'static PropDef>, CqlError> {
        let pos = self.pos();
        let name = match self.peek() {
            Some(Tok::Quoted(s)) => s.clone(),
            Some(Tok::Ident(s)) if !is_keyword(s) => s.clone(),
            _ => return Ok(None),
        };
        self.i += 1;
        match property(self.def, &name) {
            Some(p) => Ok(Some(p)),
            None => err(
                pos,
                format!(
                    "\"{name}\" is not a property of {} (see /collections/{}/schema)",
                    self.def.id, self.def.id
                ),
            ),
        }
    }

    fn typed(&self, p: &PropDef, lit: Lit, pos: usize) -> Result<Lit, CqlError> {
        let ok = match (&lit, p.ty) {
            (Lit::Num(_), PropType::Number | PropType::Integer) => true,
            (Lit::Bool(_), PropType::Boolean) => true,
            (Lit::Str(_), PropType::String) => true,
            (Lit::Time(_), PropType::String) => p.date || p.datetime,
            _ => false,
        };
        if ok {
            Ok(lit)
        } else {
            let what = match lit {
                Lit::Num(_) => "a number",
                Lit::Bool(_) => "a boolean",
                Lit::Str(_) => "a string",
                Lit::Time(_) => "a date",
            };
            err(
                pos,
                format!("\"{}\" is {}, compared with {what}", p.name, kind(p)),
            )
        }
    }

    fn predicate(&mut self) -> Result<Expr, CqlError> {
        self.term()?;
        let start = self.pos();
        let prop = match self.property()? {
            Some(p) => p,
            None => match self.literal()? {
                // literal op property
                Some(l) => {
                    let op_pos = self.pos();
                    let Some(op) = self.cmp_op() else {
                        return err(op_pos, "expected a comparison operator");
                    };
                    let pos = self.pos();
                    let Some(p) = self.property()? else {
                        return err(pos, "expected a property after a literal and an operator");
                    };
                    let l = self.typed(p, l, start)?;
                    return Ok(Expr::Cmp(p.name, op.flip(), l));
                }
                None => return err(start, "expected a property, a literal, NOT or '('"),
            },
        };
        let name = prop.name;
        if let Some(op) = self.cmp_op() {
            let pos = self.pos();
            let Some(l) = self.literal()? else {
                return err(pos, "expected a literal (compare a property with a value)");
            };
            return Ok(Expr::Cmp(name, op, self.typed(prop, l, pos)?));
        }
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            if !self.eat_keyword("NULL") {
                return err(self.pos(), "expected NULL");
            }
            let e = Expr::IsNull(name);
            return Ok(if negated { Expr::Not(Box::new(e)) } else { e });
        }
        let negated = self.eat_keyword("NOT");
        let e = if self.eat_keyword("LIKE") {
            let pos = self.pos();
            match self.literal()? {
                Some(Lit::Str(s)) if prop.ty == PropType::String => Expr::Like(name, s),
                Some(Lit::Str(_)) => {
                    return err(
                        start,
                        format!("LIKE needs a string property; \"{name}\" is {}", kind(prop)),
                    )
                }
                _ => return err(pos, "LIKE takes a quoted pattern"),
            }
        } else if self.eat_keyword("IN") {
            self.expect_sym("(")?;
            let mut list = Vec::new();
            loop {
                self.term()?;
                let pos = self.pos();
                let Some(l) = self.literal()? else {
                    return err(pos, "expected a literal in the IN list");
                };
                list.push(self.typed(prop, l, pos)?);
                if self.peek() == Some(&Tok::Sym(",")) {
                    self.i += 1;
                } else {
                    break;
                }
            }
            self.expect_sym(")")?;
            Expr::In(name, list)
        } else if self.eat_keyword("BETWEEN") {
            let pos = self.pos();
            let Some(lo) = self.literal()? else {
                return err(pos, "expected a literal after BETWEEN");
            };
            let lo = self.typed(prop, lo, pos)?;
            if !self.eat_keyword("AND") {
                return err(self.pos(), "expected AND (BETWEEN a AND b)");
            }
            let pos = self.pos();
            let Some(hi) = self.literal()? else {
                return err(pos, "expected a literal after AND");
            };
            Expr::Between(name, lo, self.typed(prop, hi, pos)?)
        } else {
            return err(
                self.pos(),
                "expected a comparison, LIKE, IN, BETWEEN or IS NULL after the property",
            );
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn cmp_op(&mut self) -> Option<Op> {
        let op = match self.peek() {
            Some(Tok::Sym("=")) => Op::Eq,
            Some(Tok::Sym("<>")) => Op::Ne,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            _ => return None,
        };
        self.i += 1;
        Some(op)
    }
}

fn is_keyword(s: &str) -> bool {
    [
        "AND",
        "OR",
        "NOT",
        "LIKE",
        "IN",
        "BETWEEN",
        "IS",
        "NULL",
        "TRUE",
        "FALSE",
        "DATE",
        "TIMESTAMP",
    ]
    .iter()
    .any(|k| s.eq_ignore_ascii_case(k))
}

/// Parses `text` against the properties of `def`.
pub fn parse(def: &CollectionDef, text: &str) -> Result<Expr, CqlError> {
    let n = text.chars().count();
    if n > MAX_LEN {
        return Err(CqlError::Limit(format!(
            "{n} characters; at most {MAX_LEN}"
        )));
    }
    if text.trim().is_empty() {
        return err(1, "empty filter");
    }
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        i: 0,
        end: n + 1,
        def,
        terms: 0,
    };
    let e = p.or(0)?;
    if p.i < p.toks.len() {
        return err(
            p.pos(),
            "unexpected text after the end of the filter (AND or OR missing?)",
        );
    }
    Ok(e)
}

fn compare(v: &Value, l: &Lit) -> Option<Ordering> {
    match (v, l) {
        (Value::Number(a), Lit::Num(b)) => a.as_f64()?.partial_cmp(b),
        (Value::String(a), Lit::Str(b) | Lit::Time(b)) => Some(a.as_str().cmp(b.as_str())),
        (Value::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// SQL LIKE: `%` any run, `_` one character; case-sensitive.
pub fn like(s: &str, pattern: &str) -> bool {
    let (s, p): (Vec<char>, Vec<char>) = (s.chars().collect(), pattern.chars().collect());
    // Dynamic programming over (pattern prefix, text prefix), one row at a time.
    let mut row = vec![false; s.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; s.len() + 1];
        if pc == '%' {
            let mut any = false;
            for j in 0..=s.len() {
                any |= row[j];
                next[j] = any;
            }
        } else {
            for j in 1..=s.len() {
                next[j] = row[j - 1] && (pc == '_' || pc == s[j - 1]);
            }
        }
        row = next;
    }
    row[s.len()]
}

impl Expr {
    /// The filter's truth for a feature whose property values `get` gives (SQL's
    /// three-valued logic: `None` is unknown).
    pub fn eval<'v>(
        &self,
        get: &impl Fn(&str) -> Option<std::borrow::Cow<'v, Value>>,
    ) -> Option<bool> {
        let val = |name: &str| get(name).filter(|v| !v.is_null());
        match self {
            Expr::And(v) => {
                let mut unknown = false;
                for e in v {
                    match e.eval(get) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                (!unknown).then_some(true)
            }
            Expr::Or(v) => {
                let mut unknown = false;
                for e in v {
                    match e.eval(get) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                (!unknown).then_some(false)
            }
            Expr::Not(e) => e.eval(get).map(|b| !b),
            Expr::Cmp(p, op, l) => Some(op.holds(compare(&*val(p)?, l)?)),
            Expr::Like(p, pat) => match val(p)?.as_ref() {
                Value::String(s) => Some(like(s, pat)),
                _ => None,
            },
            Expr::In(p, list) => {
                let v = val(p)?.into_owned();
                Some(list.iter().any(|l| compare(&v, l) == Some(Ordering::Equal)))
            }
            Expr::Between(p, lo, hi) => {
                let v = val(p)?.into_owned();
                Some(compare(&v, lo)? != Ordering::Less && compare(&v, hi)? != Ordering::Greater)
            }
            Expr::IsNull(p) => Some(val(p).is_none()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collections::{ALERTS, PARCELS};
    use serde_json::json;
    use std::borrow::Cow;

    fn eval(def: &CollectionDef, f: &str, props: &Value) -> Option<bool> {
        let e = parse(def, f).unwrap_or_else(|e| panic!("{f}: {e}"));
        e.eval(&|k: &str| props.get(k).map(|v| Cow::Owned(v.clone())))
    }

    fn error(def: &CollectionDef, f: &str) -> String {
        parse(def, f).expect_err(f).to_string()
    }

    #[test]
    fn comparisons_and_logic() {
        let plot = json!({"parcel_id": "TK12-K3-L7", "function": "protection", "area_ha": 4.5,
            "owner": "Nguyễn Văn A", "forest_ha": null, "origin": "natural"});
        let d = &PARCELS;
        assert_eq!(eval(d, "area_ha > 4", &plot), Some(true));
        assert_eq!(
            eval(d, "area_ha >= 4.5 AND area_ha <= 4.5", &plot),
            Some(true)
        );
        assert_eq!(eval(d, "4 < area_ha", &plot), Some(true), "literal first");
        assert_eq!(eval(d, "area_ha <> 4.5", &plot), Some(false));
        assert_eq!(
            eval(d, "function = 'protection' and not (area_ha < 1)", &plot),
            Some(true)
        );
        assert_eq!(
            eval(d, "function = 'production' OR area_ha > 10", &plot),
            Some(false)
        );
        assert_eq!(
            eval(d, "\"function\" IN ('special-use', 'protection')", &plot),
            Some(true)
        );
        assert_eq!(
            eval(d, "function NOT IN ('protection')", &plot),
            Some(false)
        );
        assert_eq!(eval(d, "area_ha BETWEEN 4 AND 5", &plot), Some(true));
        assert_eq!(eval(d, "area_ha NOT BETWEEN 4.6 AND 5", &plot), Some(true));
        assert_eq!(eval(d, "owner LIKE 'Nguyễn%'", &plot), Some(true));
        assert_eq!(eval(d, "parcel_id LIKE 'TK12-K_-L%'", &plot), Some(true));
        assert_eq!(
            eval(d, "parcel_id LIKE 'tk12%'", &plot),
            Some(false),
            "case-sensitive"
        );
        assert_eq!(
            eval(d, "plot_id = 'TK12-K3-L7'", &plot),
            Some(true),
            "a filter parameter's name"
        );
        assert_eq!(eval(d, "forest_ha IS NULL", &plot), Some(true));
        assert_eq!(eval(d, "forest_ha IS NOT NULL", &plot), Some(false));
        // A null compares as unknown: neither it nor its negation matches.
        assert_eq!(eval(d, "forest_ha > 1", &plot), None);
        assert_eq!(eval(d, "NOT forest_ha > 1", &plot), None);
        assert_eq!(eval(d, "forest_ha > 1 OR area_ha > 1", &plot), Some(true));
        assert_eq!(
            eval(d, "forest_ha > 1 AND area_ha > 100", &plot),
            Some(false)
        );
        assert_eq!(eval(d, "id = 'x'", &json!({"id": "x"})), Some(true));
    }

    #[test]
    fn dates_booleans_and_escapes() {
        let a = json!({"to_date": "2025-12-31", "season_mismatch": false, "commune_name": "Hữu Lũng's",
            "status_at": "2026-01-02T03:04:05Z"});
        let d = &ALERTS;
        assert_eq!(eval(d, "to_date >= DATE('2025-06-01')", &a), Some(true));
        assert_eq!(eval(d, "to_date < date('2025-06-01')", &a), Some(false));
        assert_eq!(eval(d, "season_mismatch = FALSE", &a), Some(true));
        assert_eq!(eval(d, "commune_name = 'Hữu Lũng''s'", &a), Some(true));
        assert_eq!(
            eval(d, "status_at > TIMESTAMP('2026-01-01T00:00:00Z')", &a),
            Some(true)
        );
    }

    #[test]
    fn errors_name_the_position() {
        let d = &PARCELS;
        assert_eq!(
            error(d, "area_ha > 4 AND owner ="),
            "filter: at character 24: expected a literal (compare a property with a value)"
        );
        assert_eq!(
            error(d, "area > 4"),
            "filter: at character 1: \"area\" is not a property of parcels (see /collections/parcels/schema)"
        );
        assert!(error(d, "area_ha > 'big'")
            .contains("character 11: \"area_ha\" is a number, compared with a string"));
        assert!(error(d, "(area_ha > 4").contains("character 13: expected ')'"));
        assert!(error(d, "area_ha > 4 area_ha < 5").contains("character 13"));
        assert!(error(d, "owner = 'unterminated").contains("character 9: unterminated '"));
        assert!(error(d, "area_ha != 4").contains("use <>"));
        assert!(error(d, "area_ha LIKE 'x%'").contains("LIKE needs a string property"));
        assert!(error(&ALERTS, "to_date > DATE('2025-13-01')").contains("not a valid DATE"));
        assert!(error(d, "").contains("empty filter"));
        assert!(error(d, "area_ha > 1e999").contains("not a number"));
    }

    #[test]
    fn bounded() {
        let deep = format!("{}area_ha > 1{}", "(".repeat(40), ")".repeat(40));
        assert!(error(&PARCELS, &deep).contains("deeper than 32"));
        let nots = format!("{}area_ha > 1", "NOT ".repeat(100));
        assert!(error(&PARCELS, &nots).contains("deeper than 32"));
        let wide = vec!["id = 'x'"; 300].join(" OR ");
        assert!(error(&PARCELS, &wide).contains("more than 256"));
        let long = format!("owner = '{}'", "x".repeat(MAX_LEN));
        assert!(error(&PARCELS, &long).contains("at most 4096"));
    }

    #[test]
    fn like_patterns() {
        assert!(like("abc", "a%"));
        assert!(like("abc", "%c"));
        assert!(like("abc", "a_c"));
        assert!(like("", "%"));
        assert!(!like("abc", "a_"));
        assert!(like("a%c", "a%%c"));
        assert!(like("Lộc Bình", "L_c B%"));
    }
}
