//! Evaluating parsed expressions against items: conditions (and filters) to a boolean, update
//! expressions to a new item. DynamoDB's semantics: comparisons between different types are
//! false (`<>` true), functions on missing attributes are false, every right-hand side of an
//! update reads the item as it was before the update.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use super::expr::{CmpOp, Condition, Operand, Path, PathElem, SetOperand, SetValue, Update};
use super::value::{AttributeValue, Item, Number};
use crate::error::{AwsError, Result};

/// `ExpressionAttributeValues`, validated.
pub type Values = HashMap<String, AttributeValue>;

/// The value at `path` in `item`.
pub fn resolve<'a>(item: &'a Item, path: &Path) -> Option<&'a AttributeValue> {
    let mut elems = path.0.iter();
    let PathElem::Attr(first) = elems.next()? else { return None };
    let mut cur = item.get(first)?;
    for e in elems {
        cur = match (e, cur) {
            (PathElem::Attr(a), AttributeValue::M(m)) => m.get(a)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get(*i as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn operand(item: &Item, op: &Operand, vals: &Values) -> Option<AttributeValue> {
    match op {
        Operand::Path(p) => resolve(item, p).cloned(),
        Operand::Value(v) => vals.get(v).cloned(),
        Operand::Size(p) => {
            let n = match resolve(item, p)? {
                AttributeValue::S(s) => s.len(),
                AttributeValue::B(b) => b.len(),
                AttributeValue::SS(v) | AttributeValue::NS(v) => v.len(),
                AttributeValue::BS(v) => v.len(),
                AttributeValue::L(v) => v.len(),
                AttributeValue::M(m) => m.len(),
                _ => return None,
            };
            Some(AttributeValue::N(n.to_string()))
        }
    }
}

/// Order of two scalars of the same type (S, N, B); `None` otherwise.
fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(Number::parse(x).ok()?.cmp(&Number::parse(y).ok()?)),
        _ => None,
    }
}

/// Equality as DynamoDB defines it (numbers by value; everything else structurally, sets are
/// kept sorted so structural equality is set equality).
fn equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::N(_), AttributeValue::N(_)) => order(a, b) == Some(Ordering::Equal),
        (AttributeValue::M(x), AttributeValue::M(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        (AttributeValue::L(x), AttributeValue::L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| equal(v, w)),
        _ => a == b,
    }
}

const TYPES: &[&str] = &["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];

pub fn evaluate(cond: &Condition, item: &Item, vals: &Values) -> Result<bool> {
    Ok(match cond {
        Condition::And(a, b) => evaluate(a, item, vals)? && evaluate(b, item, vals)?,
        Condition::Or(a, b) => evaluate(a, item, vals)? || evaluate(b, item, vals)?,
        Condition::Not(c) => !evaluate(c, item, vals)?,
        Condition::Compare(l, op, r) => {
            let (Some(a), Some(b)) = (operand(item, l, vals), operand(item, r, vals)) else {
                return Ok(*op == CmpOp::Ne && (operand(item, l, vals).is_some() || operand(item, r, vals).is_some()));
            };
            match op {
                CmpOp::Eq => equal(&a, &b),
                CmpOp::Ne => !equal(&a, &b),
                _ => match order(&a, &b) {
                    Some(o) => match op {
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Le => o != Ordering::Greater,
                        CmpOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    },
                    None => false,
                },
            }
        }
        Condition::Between(x, lo, hi) => {
            let (Some(v), Some(lo), Some(hi)) =
                (operand(item, x, vals), operand(item, lo, vals), operand(item, hi, vals))
            else {
                return Ok(false);
            };
            if order(&lo, &hi) == Some(Ordering::Greater) {
                return Err(AwsError::validation(
                    "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound",
                ));
            }
            order(&v, &lo).is_some_and(|o| o != Ordering::Less)
                && order(&v, &hi).is_some_and(|o| o != Ordering::Greater)
        }
        Condition::In(x, list) => match operand(item, x, vals) {
            Some(v) => list.iter().any(|o| operand(item, o, vals).is_some_and(|w| equal(&v, &w))),
            None => false,
        },
        Condition::AttributeExists(p) => resolve(item, p).is_some(),
        Condition::AttributeNotExists(p) => resolve(item, p).is_none(),
        Condition::AttributeType(p, t) => {
            let Some(AttributeValue::S(t)) = operand(item, t, vals) else {
                return Err(AwsError::validation(
                    "Invalid ConditionExpression: attribute_type requires a string type name",
                ));
            };
            if !TYPES.contains(&t.as_str()) {
                return Err(AwsError::validation(format!(
                    "Invalid ConditionExpression: Invalid attribute type name found; type: {t}, valid types: {{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }}"
                )));
            }
            resolve(item, p).is_some_and(|v| v.type_name() == t)
        }
        Condition::BeginsWith(a, b) => match (operand(item, a, vals), operand(item, b, vals)) {
            (Some(AttributeValue::S(x)), Some(AttributeValue::S(y))) => x.starts_with(&y),
            (Some(AttributeValue::B(x)), Some(AttributeValue::B(y))) => x.starts_with(&y),
            _ => false,
        },
        Condition::Contains(a, b) => match (operand(item, a, vals), operand(item, b, vals)) {
            (Some(AttributeValue::S(x)), Some(AttributeValue::S(y))) => x.contains(&y),
            (Some(AttributeValue::SS(x)), Some(AttributeValue::S(y))) => x.contains(&y),
            (Some(AttributeValue::BS(x)), Some(AttributeValue::B(y))) => x.contains(&y),
            (Some(AttributeValue::NS(x)), Some(y @ AttributeValue::N(_))) => {
                x.iter().any(|n| equal(&AttributeValue::N(n.clone()), &y))
            }
            (Some(AttributeValue::L(x)), Some(y)) => x.iter().any(|v| equal(v, &y)),
            _ => false,
        },
    })
}

fn operand_type_error(op: &str, v: &AttributeValue) -> AwsError {
    AwsError::validation(format!(
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: {op}, operand type: {}",
        v.type_name()
    ))
}

fn missing_attribute() -> AwsError {
    AwsError::validation("The provided expression refers to an attribute that does not exist in the item")
}

fn set_operand(item: &Item, op: &SetOperand, vals: &Values) -> Result<AttributeValue> {
    match op {
        SetOperand::Path(p) => resolve(item, p).cloned().ok_or_else(missing_attribute),
        SetOperand::Value(v) => vals.get(v).cloned().ok_or_else(missing_attribute),
        SetOperand::IfNotExists(p, default) => match resolve(item, p) {
            Some(v) => Ok(v.clone()),
            None => set_operand(item, default, vals),
        },
        SetOperand::ListAppend(a, b) => match (set_operand(item, a, vals)?, set_operand(item, b, vals)?) {
            (AttributeValue::L(mut x), AttributeValue::L(y)) => {
                x.extend(y);
                Ok(AttributeValue::L(x))
            }
            (AttributeValue::L(_), other) | (other, _) => Err(operand_type_error("list_append", &other)),
        },
    }
}

fn arithmetic(a: AttributeValue, b: AttributeValue, plus: bool) -> Result<AttributeValue> {
    let op = if plus { "+" } else { "-" };
    let (AttributeValue::N(x), AttributeValue::N(y)) = (&a, &b) else {
        let bad = if matches!(a, AttributeValue::N(_)) { b } else { a };
        return Err(operand_type_error(op, &bad));
    };
    let (x, y) = (Number::parse(x)?, Number::parse(y)?);
    let r = if plus { x.add(&y)? } else { x.sub(&y)? };
    Ok(AttributeValue::N(r.to_string()))
}

fn invalid_path() -> AwsError {
    AwsError::validation("The document path provided in the update expression is invalid for update")
}

/// Writes `value` at `path`, creating the last element; a list index past the end appends.
fn put(item: &mut Item, path: &Path, value: AttributeValue) -> Result<()> {
    let (last, parents) = path.0.split_last().ok_or_else(invalid_path)?;
    let PathElem::Attr(first) = &path.0[0] else { return Err(invalid_path()) };
    if parents.is_empty() {
        item.insert(first.clone(), value);
        return Ok(());
    }
    let mut cur = item.get_mut(first).ok_or_else(invalid_path)?;
    for e in &parents[1..] {
        cur = match (e, cur) {
            (PathElem::Attr(a), AttributeValue::M(m)) => m.get_mut(a).ok_or_else(invalid_path)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get_mut(*i as usize).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    match (last, cur) {
        (PathElem::Attr(a), AttributeValue::M(m)) => {
            m.insert(a.clone(), value);
        }
        (PathElem::Index(i), AttributeValue::L(l)) => {
            if (*i as usize) < l.len() {
                l[*i as usize] = value;
            } else {
                l.push(value);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

/// Removes the value at `path` (list elements shift left); absent paths are ignored.
fn remove(item: &mut Item, path: &Path) {
    let Some((last, parents)) = path.0.split_last() else { return };
    let PathElem::Attr(first) = &path.0[0] else { return };
    if parents.is_empty() {
        item.remove(first);
        return;
    }
    let Some(mut cur) = item.get_mut(first) else { return };
    for e in &parents[1..] {
        cur = match (e, cur) {
            (PathElem::Attr(a), AttributeValue::M(m)) => match m.get_mut(a) {
                Some(v) => v,
                None => return,
            },
            (PathElem::Index(i), AttributeValue::L(l)) => match l.get_mut(*i as usize) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (last, cur) {
        (PathElem::Attr(a), AttributeValue::M(m)) => {
            m.remove(a);
        }
        (PathElem::Index(i), AttributeValue::L(l)) if (*i as usize) < l.len() => {
            l.remove(*i as usize);
        }
        _ => {}
    }
}

fn set_union(a: Vec<String>, b: Vec<String>) -> Vec<String> {
    a.into_iter().chain(b).collect::<BTreeSet<_>>().into_iter().collect()
}

fn number_set_union(a: Vec<String>, b: Vec<String>) -> Result<Vec<String>> {
    let mut all: Vec<Number> = a.iter().chain(&b).map(|n| Number::parse(n)).collect::<Result<_>>()?;
    all.sort();
    all.dedup();
    Ok(all.into_iter().map(|n| n.to_string()).collect())
}

/// Applies an update expression; returns the new item. Every right-hand side reads `old`.
pub fn apply(update: &Update, old: &Item, vals: &Values) -> Result<Item> {
    let mut new = old.clone();
    for (path, v) in &update.set {
        let value = match v {
            SetValue::Operand(o) => set_operand(old, o, vals)?,
            SetValue::Plus(a, b) => arithmetic(set_operand(old, a, vals)?, set_operand(old, b, vals)?, true)?,
            SetValue::Minus(a, b) => arithmetic(set_operand(old, a, vals)?, set_operand(old, b, vals)?, false)?,
        };
        put(&mut new, path, value)?;
    }
    for path in &update.remove {
        remove(&mut new, path);
    }
    for (path, v) in &update.add {
        let add = vals.get(v).cloned().ok_or_else(missing_attribute)?;
        let merged = match (resolve(old, path).cloned(), add) {
            (
                None,
                v @ (AttributeValue::N(_) | AttributeValue::SS(_) | AttributeValue::NS(_) | AttributeValue::BS(_)),
            ) => v,
            (Some(a @ AttributeValue::N(_)), b @ AttributeValue::N(_)) => arithmetic(a, b, true)?,
            (Some(AttributeValue::SS(a)), AttributeValue::SS(b)) => AttributeValue::SS(set_union(a, b)),
            (Some(AttributeValue::NS(a)), AttributeValue::NS(b)) => AttributeValue::NS(number_set_union(a, b)?),
            (Some(AttributeValue::BS(a)), AttributeValue::BS(b)) => {
                AttributeValue::BS(a.into_iter().chain(b).collect::<BTreeSet<_>>().into_iter().collect())
            }
            (Some(existing), v)
                if existing.type_name() != v.type_name()
                    && matches!(
                        v,
                        AttributeValue::N(_) | AttributeValue::SS(_) | AttributeValue::NS(_) | AttributeValue::BS(_)
                    ) =>
            {
                return Err(AwsError::validation("An operand in the update expression has an incorrect data type"));
            }
            (_, v) => return Err(operand_type_error("ADD", &v)),
        };
        put(&mut new, path, merged)?;
    }
    for (path, v) in &update.delete {
        let del = vals.get(v).cloned().ok_or_else(missing_attribute)?;
        let Some(existing) = resolve(&new, path).cloned() else { continue };
        let remaining = match (existing, del) {
            (AttributeValue::SS(a), AttributeValue::SS(b)) => {
                AttributeValue::SS(a.into_iter().filter(|x| !b.contains(x)).collect())
            }
            (AttributeValue::NS(a), AttributeValue::NS(b)) => AttributeValue::NS(
                a.into_iter()
                    .filter(|x| !b.iter().any(|y| equal(&AttributeValue::N(x.clone()), &AttributeValue::N(y.clone()))))
                    .collect(),
            ),
            (AttributeValue::BS(a), AttributeValue::BS(b)) => {
                AttributeValue::BS(a.into_iter().filter(|x| !b.contains(x)).collect())
            }
            (_, v) => return Err(operand_type_error("DELETE", &v)),
        };
        let empty = matches!(&remaining, AttributeValue::SS(v) | AttributeValue::NS(v) if v.is_empty())
            || matches!(&remaining, AttributeValue::BS(v) if v.is_empty());
        if empty { remove(&mut new, path) } else { put(&mut new, path, remaining)? }
    }
    Ok(new)
}

/// Top-level attribute names an update touches (for UPDATED_OLD / UPDATED_NEW).
pub fn touched(update: &Update) -> BTreeSet<String> {
    let paths = update
        .set
        .iter()
        .map(|(p, _)| p)
        .chain(&update.remove)
        .chain(update.add.iter().map(|(p, _)| p))
        .chain(update.delete.iter().map(|(p, _)| p));
    paths
        .filter_map(|p| match p.0.first() {
            Some(PathElem::Attr(a)) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::expr::{Kind, Placeholders, Usage, parse_condition, parse_update};
    use super::*;

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn item() -> Item {
        [
            ("pk".to_string(), s("u#1")),
            ("count".to_string(), n("5")),
            ("tags".to_string(), AttributeValue::SS(vec!["a".into(), "b".into()])),
            ("nums".to_string(), AttributeValue::L(vec![n("1"), n("2")])),
            ("m".to_string(), AttributeValue::M([("x".to_string(), s("hello"))].into())),
        ]
        .into()
    }

    fn vals() -> Values {
        [
            (":five", n("5.0")),
            (":one", n("1")),
            (":s", s("hel")),
            (":a", s("a")),
            (":tags", AttributeValue::SS(vec!["c".into(), "a".into()])),
            (":l", AttributeValue::L(vec![n("3")])),
            (":t", s("SS")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn check(expr: &str) -> bool {
        let names = [("#c".to_string(), "count".to_string())].into();
        let keys = vals().keys().cloned().collect();
        let c = parse_condition(
            Kind::Condition,
            expr,
            &Placeholders { names: &names, values: &keys },
            &mut Usage::default(),
        )
        .unwrap();
        evaluate(&c, &item(), &vals()).unwrap()
    }

    fn update(expr: &str) -> Result<Item> {
        let names = [("#c".to_string(), "count".to_string())].into();
        let keys = vals().keys().cloned().collect();
        let u = parse_update(expr, &Placeholders { names: &names, values: &keys }, &mut Usage::default()).unwrap();
        apply(&u, &item(), &vals())
    }

    #[test]
    fn conditions_follow_dynamodb_semantics() {
        assert!(check("#c = :five"), "numbers compare by value");
        assert!(check("#c >= :one AND #c BETWEEN :one AND :five"));
        assert!(!check("#c < :one"));
        assert!(check("#c <> :s"), "different types are unequal");
        assert!(!check("#c > :s"), "different types do not order");
        assert!(check("attribute_exists(m.x) AND attribute_not_exists(m.y)"));
        assert!(check("begins_with(m.x, :s) AND contains(tags, :a) AND contains(m.x, :s)"));
        assert!(check("size(nums) = :one OR size(tags) > :one"));
        assert!(check("attribute_type(tags, :t)"));
        assert!(check("#c IN (:one, :five)"));
        assert!(!check("absent = :one"));
        assert!(check("NOT absent = :one"));
    }

    #[test]
    fn updates_apply_against_the_old_item() {
        let u = update("SET #c = #c + :one, nums = list_append(nums, :l), m.y = :a, fresh = if_not_exists(fresh, :one) REMOVE m.x ADD tags :tags").unwrap();
        assert_eq!(u["count"], n("6"));
        assert_eq!(u["nums"], AttributeValue::L(vec![n("1"), n("2"), n("3")]));
        assert_eq!(u["m"], AttributeValue::M([("y".to_string(), s("a"))].into()));
        assert_eq!(u["fresh"], n("1"));
        assert_eq!(u["tags"], AttributeValue::SS(vec!["a".into(), "b".into(), "c".into()]));
        let u = update("DELETE tags :tags REMOVE nums[0]").unwrap();
        assert_eq!(u["tags"], AttributeValue::SS(vec!["b".into()]));
        assert_eq!(u["nums"], AttributeValue::L(vec![n("2")]));
        assert!(update("SET #c = #c + :s").is_err());
        assert!(update("SET x = nothing + :one").is_err());
        assert!(update("SET nope.deeper = :one").is_err());
        assert!(update("ADD m :one").is_err());
    }
}
