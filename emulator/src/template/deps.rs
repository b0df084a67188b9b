//! Which resources a value refers to, and the order in which resources can be created.
//!
//! A resource can only be created once every resource it names exists, because its properties
//! need their physical ids and attributes. CloudFormation derives those edges from `Ref`,
//! `Fn::GetAtt`, the `${X}` / `${X.Attr}` placeholders of `Fn::Sub`, and the explicit
//! `DependsOn`; so does [`sort`]. Both branches of an `Fn::If` count, as in CloudFormation,
//! because the condition is not known until parameters are.
//!
//! The same scan finds names that refer to nothing (CloudFormation's "Unresolved resource
//! dependencies") and the condition names used by `Fn::If`, so the template can be rejected
//! before anything is provisioned.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::error::{TemplateError, bracket_list};
use super::{Resource, sub};

/// Pseudo parameters: always resolvable by `Ref` and `${…}`.
pub(crate) const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The names a reference may resolve to.
pub(crate) struct Names<'a> {
    pub resources: &'a BTreeSet<&'a str>,
    pub parameters: &'a BTreeSet<&'a str>,
}

/// What one scan of a value found.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    /// Resources named, each once, in order of first appearance.
    pub resources: Vec<String>,
    /// Names that are neither resources, parameters nor pseudo parameters.
    pub unresolved: Vec<String>,
    /// Condition names used by `Fn::If`.
    pub if_conditions: Vec<String>,
}

impl Refs {
    fn resource(&mut self, name: &str) {
        if !self.resources.iter().any(|r| r == name) {
            self.resources.push(name.to_string());
        }
    }

    fn unresolved(&mut self, name: &str) {
        if !self.unresolved.iter().any(|r| r == name) {
            self.unresolved.push(name.to_string());
        }
    }
}

/// Scans `value` for references, adding to `refs`.
pub(crate) fn scan(value: &Value, names: &Names<'_>, refs: &mut Refs) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| scan(item, names, refs)),
        Value::Object(object) if object.len() == 1 => {
            let (key, arg) = object.iter().next().expect("one entry");
            match (key.as_str(), arg) {
                ("Ref", Value::String(name)) => name_ref(name, names, refs),
                ("Fn::GetAtt", Value::String(dotted)) => {
                    let resource = dotted.split_once('.').map_or(dotted.as_str(), |(r, _)| r);
                    resource_ref(resource, names, refs);
                }
                ("Fn::GetAtt", Value::Array(args)) => {
                    match args.first() {
                        Some(Value::String(resource)) => resource_ref(resource, names, refs),
                        Some(other) => scan(other, names, refs),
                        None => {}
                    }
                    args.iter().skip(1).for_each(|arg| scan(arg, names, refs));
                }
                ("Fn::Sub", Value::String(template)) => sub_refs(template, &BTreeSet::new(), names, refs),
                ("Fn::Sub", Value::Array(args)) => {
                    let variables: BTreeSet<&str> = match args.get(1) {
                        Some(Value::Object(vars)) => vars.keys().map(String::as_str).collect(),
                        _ => BTreeSet::new(),
                    };
                    match args.first() {
                        Some(Value::String(template)) => sub_refs(template, &variables, names, refs),
                        Some(other) => scan(other, names, refs),
                        None => {}
                    }
                    args.iter().skip(1).for_each(|arg| scan(arg, names, refs));
                }
                ("Fn::If", Value::Array(args)) => {
                    if let Some(Value::String(condition)) = args.first()
                        && !refs.if_conditions.contains(condition)
                    {
                        refs.if_conditions.push(condition.clone());
                    }
                    args.iter().skip(1).for_each(|arg| scan(arg, names, refs));
                }
                _ => scan(arg, names, refs),
            }
        }
        Value::Object(object) => object.values().for_each(|item| scan(item, names, refs)),
        _ => {}
    }
}

/// `Ref name`: a resource, a parameter, a pseudo parameter, or unresolved.
fn name_ref(name: &str, names: &Names<'_>, refs: &mut Refs) {
    if names.resources.contains(name) {
        refs.resource(name);
    } else if !names.parameters.contains(name) && !PSEUDO_PARAMETERS.contains(&name) {
        refs.unresolved(name);
    }
}

/// A name that must be a resource (`Fn::GetAtt`, `${X.Attr}`).
fn resource_ref(name: &str, names: &Names<'_>, refs: &mut Refs) {
    if names.resources.contains(name) {
        refs.resource(name);
    } else {
        refs.unresolved(name);
    }
}

fn sub_refs(template: &str, variables: &BTreeSet<&str>, names: &Names<'_>, refs: &mut Refs) {
    for var in sub::variables(template) {
        if variables.contains(var) {
            continue;
        }
        match var.split_once('.') {
            Some((resource, _)) => resource_ref(resource, names, refs),
            None => name_ref(var, names, refs),
        }
    }
}

/// Orders `resources` so that each comes after every resource it refers to; resources with no
/// order between them keep the template's order.
pub(crate) fn sort(resources: Vec<Resource>, parameters: &BTreeSet<&str>) -> Result<Vec<Resource>, TemplateError> {
    let index: BTreeMap<&str, usize> = resources.iter().enumerate().map(|(i, r)| (r.logical_id.as_str(), i)).collect();
    let resource_names: BTreeSet<&str> = index.keys().copied().collect();
    let names = Names { resources: &resource_names, parameters };

    let mut unresolved: Vec<String> = Vec::new();
    let mut needs: Vec<BTreeSet<usize>> = Vec::with_capacity(resources.len());
    for resource in &resources {
        let mut refs = Refs::default();
        scan(&resource.properties, &names, &mut refs);
        for dependency in &resource.depends_on {
            if index.contains_key(dependency.as_str()) {
                refs.resource(dependency);
            } else {
                refs.unresolved(dependency);
            }
        }
        for name in refs.unresolved {
            if !unresolved.contains(&name) {
                unresolved.push(name);
            }
        }
        needs.push(refs.resources.iter().filter_map(|name| index.get(name.as_str()).copied()).collect());
    }
    if !unresolved.is_empty() {
        return Err(TemplateError::format(format!(
            "Unresolved resource dependencies {} in the Resources block of the template",
            bracket_list(&unresolved)
        )));
    }

    // Kahn's algorithm, always taking the earliest ready resource in template order.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); resources.len()];
    for (i, deps) in needs.iter().enumerate() {
        for &d in deps {
            dependents[d].push(i);
        }
    }
    let mut waiting: Vec<usize> = needs.iter().map(BTreeSet::len).collect();
    let mut ready: BTreeSet<usize> = (0..resources.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(resources.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &dependent in &dependents[i] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.insert(dependent);
            }
        }
    }
    if order.len() < resources.len() {
        let cycle = cycle_members(&needs, &order);
        let names: Vec<&str> = cycle.iter().map(|&i| resources[i].logical_id.as_str()).collect();
        return Err(TemplateError::validation(format!(
            "Circular dependency between resources: {}",
            bracket_list(&names)
        )));
    }

    let mut slots: Vec<Option<Resource>> = resources.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// The resources left over by the sort are those in a cycle and those that depend on one; drop
/// the latter (nothing left over depends on them) until only the cycle remains.
fn cycle_members(needs: &[BTreeSet<usize>], placed: &[usize]) -> Vec<usize> {
    let placed: BTreeSet<usize> = placed.iter().copied().collect();
    let mut left: BTreeSet<usize> = (0..needs.len()).filter(|i| !placed.contains(i)).collect();
    loop {
        let needed: BTreeSet<usize> = left.iter().flat_map(|&i| needs[i].iter().copied()).collect();
        let before = left.len();
        left.retain(|i| needed.contains(i));
        if left.len() == before {
            return left.into_iter().collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn resource(id: &str, properties: Value, depends_on: &[&str]) -> Resource {
        Resource {
            logical_id: id.into(),
            kind: "AWS::S3::Bucket".into(),
            properties,
            condition: None,
            depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
            metadata: Value::Null,
        }
    }

    fn order(resources: Vec<Resource>) -> Result<Vec<String>, TemplateError> {
        let parameters = BTreeSet::from(["Stage"]);
        Ok(sort(resources, &parameters)?.into_iter().map(|r| r.logical_id).collect())
    }

    #[test]
    fn referenced_resources_come_first() {
        let got = order(vec![
            resource("Fn", json!({"Role": {"Fn::GetAtt": ["Role", "Arn"]}, "T": {"Ref": "Table"}}), &[]),
            resource("Api", json!({"Uri": {"Fn::Sub": "arn:${AWS::Partition}:lambda:${Fn.Arn}/${Stage}"}}), &[]),
            resource("Role", json!({}), &[]),
            resource("Table", json!({"Name": {"Fn::GetAtt": "Key.Arn"}}), &[]),
            resource("Key", json!({}), &["Role"]),
        ])
        .unwrap();
        assert_eq!(got, ["Role", "Key", "Table", "Fn", "Api"]);
    }

    #[test]
    fn independent_resources_keep_template_order() {
        let got = order(vec![
            resource("C", json!({}), &[]),
            resource("A", json!({"X": {"Ref": "C"}}), &[]),
            resource("B", json!({}), &[]),
        ])
        .unwrap();
        assert_eq!(got, ["C", "A", "B"]);
        let got = order(vec![resource("Z", json!({"X": {"Ref": "Y"}}), &[]), resource("Y", json!({}), &[])]).unwrap();
        assert_eq!(got, ["Y", "Z"]);
    }

    #[test]
    fn sub_variables_escapes_and_parameters_are_not_dependencies() {
        let got = order(vec![
            resource(
                "A",
                json!({"S": {"Fn::Sub": ["${!B} ${Local} ${Stage} ${AWS::Region}", {"Local": {"Ref": "C"}}]}}),
                &[],
            ),
            resource("B", json!({}), &[]),
            resource("C", json!({}), &[]),
        ])
        .unwrap();
        assert_eq!(got, ["B", "C", "A"]);
    }

    #[test]
    fn depends_on_orders_resources() {
        let got = order(vec![resource("A", json!({}), &["B"]), resource("B", json!({}), &[])]).unwrap();
        assert_eq!(got, ["B", "A"]);
    }

    #[test]
    fn cycles_are_reported_with_their_members_only() {
        let err = order(vec![
            resource("Downstream", json!({"X": {"Ref": "A"}}), &[]),
            resource("A", json!({"X": {"Fn::GetAtt": ["B", "Arn"]}}), &[]),
            resource("B", json!({"X": {"Fn::Sub": "${C}"}}), &[]),
            resource("C", json!({}), &["A"]),
            resource("Free", json!({}), &[]),
        ])
        .unwrap_err();
        assert_eq!(err, TemplateError::Validation("Circular dependency between resources: [A, B, C]".into()));
        let err = order(vec![resource("Self", json!({"X": {"Ref": "Self"}}), &[])]).unwrap_err();
        assert_eq!(err.to_string(), "Circular dependency between resources: [Self]");
    }

    #[test]
    fn unknown_references_are_reported() {
        let err = order(vec![
            resource("A", json!({"X": {"Ref": "Missing"}, "Y": {"Fn::Sub": "${Gone.Arn}"}}), &["Nope"]),
            resource("B", json!({"X": {"Ref": "AWS::Bogus"}}), &[]),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Template format error: Unresolved resource dependencies [Missing, Gone, Nope, AWS::Bogus] in the \
             Resources block of the template"
        );
    }

    #[test]
    fn scan_collects_if_conditions() {
        let resources = BTreeSet::new();
        let parameters = BTreeSet::new();
        let mut refs = Refs::default();
        scan(
            &json!({"A": {"Fn::If": ["IsProd", {"Fn::If": ["Other", 1, 2]}, 3]}}),
            &Names { resources: &resources, parameters: &parameters },
            &mut refs,
        );
        assert_eq!(refs.if_conditions, ["IsProd", "Other"]);
    }
}
