//! Property test: random sequences of writes (plain and conditional Put, Update, Delete) and
//! reads (Query with random key conditions, directions, filters and page sizes; Scan with
//! random page sizes and filters) run against the emulator through the SDK and against a small
//! in-memory model of DynamoDB's documented semantics. Every write must succeed or fail the
//! same way in both, and every read must return the same pages: the same items, the same
//! `Count`/`ScannedCount` per page, and `LastEvaluatedKey` exactly when the page stopped at
//! `Limit` (so the page after a full last page is empty).
//!
//! The sort key is a number drawn from values whose numeric and textual orders differ
//! (`-3 < 0.25 < 1 < 1.5 < 2 < 10 < 100`), so a lexicographic comparison anywhere shows up.
//! Scan order is not defined by DynamoDB, so Scan is compared page by page on counts and
//! overall as a set of items.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use proptest::prelude::*;

use crate::common;

/// Sort keys in numeric order; their index is their rank.
const SKS: [&str; 7] = ["-3", "0.25", "1", "1.5", "2", "10", "100"];
const PKS: [&str; 2] = ["a", "b"];
const TAGS: [&str; 3] = ["red", "rose", "blue"];

type Item = BTreeMap<String, AttributeValue>;

#[derive(Debug, Clone)]
enum PutCond {
    None,
    NotExists,
    VLess(i64),
}

#[derive(Debug, Clone)]
enum Upd {
    /// `ADD v :d`
    AddV(i64),
    /// `SET v = v + :d` if the item exists.
    IncrV(i64),
    /// `SET tag = :t`
    SetTag(usize),
    /// `REMOVE tag`
    RemoveTag,
}

#[derive(Debug, Clone)]
enum Filter {
    VGreater(i64),
    TagExists,
    TagBegins(&'static str),
}

#[derive(Debug, Clone)]
enum Range {
    Cmp(&'static str, usize),
    Between(usize, usize),
}

#[derive(Debug, Clone)]
enum Op {
    Put { pk: usize, sk: usize, v: i64, tag: Option<usize>, cond: PutCond },
    Update { pk: usize, sk: usize, upd: Upd },
    Delete { pk: usize, sk: usize, only_if_v_over: Option<i64> },
    Query { pk: usize, range: Option<Range>, forward: bool, limit: Option<i32>, filter: Option<Filter> },
    Scan { limit: Option<i32>, filter: Option<Filter> },
}

fn filter() -> impl Strategy<Value = Option<Filter>> {
    prop_oneof![
        2 => Just(None),
        1 => (-5i64..10).prop_map(|x| Some(Filter::VGreater(x))),
        1 => Just(Some(Filter::TagExists)),
        1 => prop_oneof![Just("r"), Just("ro"), Just("b")].prop_map(|p| Some(Filter::TagBegins(p))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let pk = 0..PKS.len();
    let sk = 0..SKS.len();
    let limit = prop_oneof![Just(None), (1i32..6).prop_map(Some)];
    prop_oneof![
        4 => (pk.clone(), sk.clone(), -5i64..10, proptest::option::of(0..TAGS.len()),
              prop_oneof![2 => Just(PutCond::None), 1 => Just(PutCond::NotExists), 1 => (-5i64..10).prop_map(PutCond::VLess)])
            .prop_map(|(pk, sk, v, tag, cond)| Op::Put { pk, sk, v, tag, cond }),
        4 => (pk.clone(), sk.clone(), prop_oneof![
                (-3i64..4).prop_map(Upd::AddV),
                (-3i64..4).prop_map(Upd::IncrV),
                (0..TAGS.len()).prop_map(Upd::SetTag),
                Just(Upd::RemoveTag),
            ]).prop_map(|(pk, sk, upd)| Op::Update { pk, sk, upd }),
        2 => (pk.clone(), sk.clone(), proptest::option::of(-5i64..10))
            .prop_map(|(pk, sk, only_if_v_over)| Op::Delete { pk, sk, only_if_v_over }),
        4 => (pk, proptest::option::of(prop_oneof![
                (prop_oneof![Just("="), Just("<"), Just("<="), Just(">"), Just(">=")], sk.clone()).prop_map(|(c, i)| Range::Cmp(c, i)),
                (sk.clone(), sk).prop_map(|(a, b)| Range::Between(a.min(b), a.max(b))),
            ]), any::<bool>(), limit.clone(), filter())
            .prop_map(|(pk, range, forward, limit, filter)| Op::Query { pk, range, forward, limit, filter }),
        1 => (limit, filter()).prop_map(|(limit, filter)| Op::Scan { limit, filter }),
    ]
}

/// The reference model: items by (partition index, sort-key rank).
#[derive(Default)]
struct Model {
    items: BTreeMap<(usize, usize), Item>,
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn v_of(item: &Item) -> Option<i64> {
    item.get("v").and_then(|v| v.as_n().ok()).and_then(|t| t.parse().ok())
}

fn keys(pk: usize, sk: usize) -> Item {
    Item::from([("pk".into(), AttributeValue::S(PKS[pk].into())), ("sk".into(), AttributeValue::N(SKS[sk].into()))])
}

fn passes(f: &Option<Filter>, item: &Item) -> bool {
    match f {
        None => true,
        Some(Filter::VGreater(x)) => v_of(item).is_some_and(|v| v > *x),
        Some(Filter::TagExists) => item.contains_key("tag"),
        Some(Filter::TagBegins(p)) => item.get("tag").and_then(|t| t.as_s().ok()).is_some_and(|t| t.starts_with(p)),
    }
}

fn in_range(range: &Option<Range>, sk: usize) -> bool {
    match range {
        None => true,
        Some(Range::Cmp(c, i)) => match *c {
            "=" => sk == *i,
            "<" => sk < *i,
            "<=" => sk <= *i,
            ">" => sk > *i,
            _ => sk >= *i,
        },
        Some(Range::Between(a, b)) => (*a..=*b).contains(&sk),
    }
}

/// What a write did: `Ok` or the error code.
type WriteOutcome = Result<(), String>;

/// One page as compared: items, Count, ScannedCount, whether LastEvaluatedKey came back.
type Page = (Vec<Item>, i32, i32, bool);

impl Model {
    fn write(&mut self, op: &Op) -> WriteOutcome {
        const FAILED: &str = "ConditionalCheckFailedException";
        match op {
            Op::Put { pk, sk, v, tag, cond } => {
                let old = self.items.get(&(*pk, *sk));
                let ok = match cond {
                    PutCond::None => true,
                    PutCond::NotExists => old.is_none(),
                    PutCond::VLess(x) => old.and_then(v_of).is_some_and(|v| v < *x),
                };
                if !ok {
                    return Err(FAILED.into());
                }
                let mut item = keys(*pk, *sk);
                item.insert("v".into(), n(*v));
                if let Some(t) = tag {
                    item.insert("tag".into(), AttributeValue::S(TAGS[*t].into()));
                }
                self.items.insert((*pk, *sk), item);
            }
            Op::Update { pk, sk, upd } => {
                let old = self.items.get(&(*pk, *sk)).cloned();
                let mut item = old.clone().unwrap_or_else(|| keys(*pk, *sk));
                match upd {
                    Upd::AddV(d) => {
                        item.insert("v".into(), n(v_of(&item).unwrap_or(0) + d));
                    }
                    Upd::IncrV(d) => {
                        if old.is_none() {
                            return Err(FAILED.into());
                        }
                        let Some(v) = v_of(&item) else { return Err("ValidationException".into()) };
                        item.insert("v".into(), n(v + d));
                    }
                    Upd::SetTag(t) => {
                        item.insert("tag".into(), AttributeValue::S(TAGS[*t].into()));
                    }
                    Upd::RemoveTag => {
                        item.remove("tag");
                    }
                }
                self.items.insert((*pk, *sk), item);
            }
            Op::Delete { pk, sk, only_if_v_over } => {
                if let Some(x) = only_if_v_over
                    && self.items.get(&(*pk, *sk)).and_then(v_of).is_none_or(|v| v <= *x)
                {
                    return Err(FAILED.into());
                }
                self.items.remove(&(*pk, *sk));
            }
            Op::Query { .. } | Op::Scan { .. } => unreachable!("reads are not writes"),
        }
        Ok(())
    }

    /// Pages of a read over `candidates` (already in read order), as DynamoDB forms them.
    fn pages(candidates: Vec<&Item>, limit: Option<i32>, f: &Option<Filter>) -> Vec<Page> {
        let mut out = Vec::new();
        let mut rest = candidates.as_slice();
        loop {
            let take = limit.map_or(rest.len(), |l| (l as usize).min(rest.len()));
            let (page, tail) = rest.split_at(take);
            let items: Vec<Item> = page.iter().filter(|i| passes(f, i)).map(|i| (*i).clone()).collect();
            let stopped = limit.is_some_and(|l| take == l as usize);
            out.push((items.clone(), items.len() as i32, take as i32, stopped));
            if !stopped {
                return out;
            }
            rest = tail;
        }
    }

    fn query(
        &self,
        pk: usize,
        range: &Option<Range>,
        forward: bool,
        limit: Option<i32>,
        f: &Option<Filter>,
    ) -> Vec<Page> {
        let mut hits: Vec<&Item> =
            self.items.iter().filter(|((p, s), _)| *p == pk && in_range(range, *s)).map(|(_, i)| i).collect();
        if !forward {
            hits.reverse();
        }
        Self::pages(hits, limit, f)
    }
}

async fn table(db: &Client, name: &str) {
    db.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::N).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap())
        .send()
        .await
        .unwrap();
}

fn code<E: ProvideErrorMetadata>(e: E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

async fn write(db: &Client, t: &str, op: &Op) -> WriteOutcome {
    match op {
        Op::Put { pk, sk, v, tag, cond } => {
            let mut req =
                db.put_item().table_name(t).set_item(Some(keys(*pk, *sk).into_iter().collect())).item("v", n(*v));
            if let Some(tag) = tag {
                req = req.item("tag", AttributeValue::S(TAGS[*tag].into()));
            }
            req = match cond {
                PutCond::None => req,
                PutCond::NotExists => req.condition_expression("attribute_not_exists(pk)"),
                PutCond::VLess(x) => req.condition_expression("v < :x").expression_attribute_values(":x", n(*x)),
            };
            req.send().await.map(|_| ()).map_err(|e| code(e.into_service_error()))
        }
        Op::Update { pk, sk, upd } => {
            let req = db.update_item().table_name(t).set_key(Some(keys(*pk, *sk).into_iter().collect()));
            let req = match upd {
                Upd::AddV(d) => req.update_expression("ADD v :d").expression_attribute_values(":d", n(*d)),
                Upd::IncrV(d) => req
                    .update_expression("SET v = v + :d")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(":d", n(*d)),
                Upd::SetTag(i) => req
                    .update_expression("SET tag = :t")
                    .expression_attribute_values(":t", AttributeValue::S(TAGS[*i].into())),
                Upd::RemoveTag => req.update_expression("REMOVE tag"),
            };
            req.send().await.map(|_| ()).map_err(|e| code(e.into_service_error()))
        }
        Op::Delete { pk, sk, only_if_v_over } => {
            let mut req = db.delete_item().table_name(t).set_key(Some(keys(*pk, *sk).into_iter().collect()));
            if let Some(x) = only_if_v_over {
                req = req.condition_expression("v > :x").expression_attribute_values(":x", n(*x));
            }
            req.send().await.map(|_| ()).map_err(|e| code(e.into_service_error()))
        }
        Op::Query { .. } | Op::Scan { .. } => unreachable!("reads are not writes"),
    }
}

/// `FilterExpression` text and its values.
fn filter_expr(f: &Option<Filter>) -> Option<(&'static str, Option<(&'static str, AttributeValue)>)> {
    match f {
        None => None,
        Some(Filter::VGreater(x)) => Some(("v > :f", Some((":f", n(*x))))),
        Some(Filter::TagExists) => Some(("attribute_exists(tag)", None)),
        Some(Filter::TagBegins(p)) => Some(("begins_with(tag, :f)", Some((":f", AttributeValue::S(p.to_string()))))),
    }
}

fn sorted(items: Vec<HashMap<String, AttributeValue>>) -> Vec<Item> {
    items.into_iter().map(|i| i.into_iter().collect()).collect()
}

async fn read(db: &Client, t: &str, op: &Op) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut start = None;
    loop {
        let (items, count, scanned, last) = match op {
            Op::Query { pk, range, forward, limit, filter } => {
                let mut cond = "pk = :p".to_string();
                let mut req = db
                    .query()
                    .table_name(t)
                    .expression_attribute_values(":p", AttributeValue::S(PKS[*pk].into()))
                    .scan_index_forward(*forward)
                    .set_limit(*limit)
                    .set_exclusive_start_key(start.take());
                match range {
                    None => {}
                    Some(Range::Cmp(c, i)) => {
                        cond.push_str(&format!(" AND sk {c} :s"));
                        req = req.expression_attribute_values(":s", AttributeValue::N(SKS[*i].into()));
                    }
                    Some(Range::Between(a, b)) => {
                        cond.push_str(" AND sk BETWEEN :a AND :b");
                        req = req
                            .expression_attribute_values(":a", AttributeValue::N(SKS[*a].into()))
                            .expression_attribute_values(":b", AttributeValue::N(SKS[*b].into()));
                    }
                }
                if let Some((text, value)) = filter_expr(filter) {
                    req = req.filter_expression(text);
                    if let Some((k, v)) = value {
                        req = req.expression_attribute_values(k, v);
                    }
                }
                let out = req.key_condition_expression(cond).send().await.expect("query");
                (sorted(out.items.unwrap_or_default()), out.count, out.scanned_count, out.last_evaluated_key)
            }
            Op::Scan { limit, filter } => {
                let mut req = db.scan().table_name(t).set_limit(*limit).set_exclusive_start_key(start.take());
                if let Some((text, value)) = filter_expr(filter) {
                    req = req.filter_expression(text);
                    if let Some((k, v)) = value {
                        req = req.expression_attribute_values(k, v);
                    }
                }
                let out = req.send().await.expect("scan");
                (sorted(out.items.unwrap_or_default()), out.count, out.scanned_count, out.last_evaluated_key)
            }
            _ => unreachable!("writes are not reads"),
        };
        let more = last.is_some();
        pages.push((items, count, scanned, more));
        match last {
            Some(k) => start = Some(k),
            None => return pages,
        }
    }
}

/// Scan pages compared without DynamoDB's unspecified order: per-page counts, all items as a set.
fn scan_shape(pages: Vec<Page>) -> (Vec<(i32, bool)>, Vec<Item>) {
    let shape = pages.iter().map(|p| (p.2, p.3)).collect();
    let mut all: Vec<Item> = pages.into_iter().flat_map(|p| p.0).collect();
    all.sort_by_key(|i| format!("{i:?}"));
    (shape, all)
}

#[test]
fn emulator_matches_the_reference_model() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let emu = rt.block_on(common::start());
    let db = Client::new(&common::sdk_config(emu.url()));
    let cases = AtomicUsize::new(0);
    let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..40))| {
        let name = format!("model-{}", cases.fetch_add(1, Ordering::SeqCst));
        rt.block_on(table(&db, &name));
        let mut model = Model::default();
        for (step, op) in ops.iter().enumerate() {
            match op {
                Op::Query { pk, range, forward, limit, filter } => {
                    let got = rt.block_on(read(&db, &name, op));
                    let want = model.query(*pk, range, *forward, *limit, filter);
                    prop_assert_eq!(got, want, "step {}: {:?}", step, op);
                }
                Op::Scan { limit, filter } => {
                    let got = rt.block_on(read(&db, &name, op));
                    let all: Vec<&Item> = model.items.values().collect();
                    let want = Model::pages(all, *limit, filter);
                    prop_assert_eq!(scan_shape(got), scan_shape(want), "step {}: {:?}", step, op);
                }
                _ => {
                    let got = rt.block_on(write(&db, &name, op));
                    let want = model.write(op);
                    prop_assert_eq!(got, want, "step {}: {:?}", step, op);
                }
            }
        }
        // The whole table agrees at the end.
        let got = rt.block_on(read(&db, &name, &Op::Scan { limit: None, filter: None }));
        let want = Model::pages(model.items.values().collect(), None, &None);
        prop_assert_eq!(scan_shape(got), scan_shape(want));
    });
    rt.block_on(emu.shutdown());
}
