//! Key policy evaluation: is `principal` allowed `action` on this key, in this request context?
//!
//! IAM's rules for a resource policy: an explicit `Deny` that matches wins; otherwise any
//! matching `Allow` grants; otherwise the request is implicitly denied.
//!
//! IAM itself is not emulated. In AWS a statement naming the account root (or the bare account
//! id) delegates to the account's IAM policies; here those would allow everything, so such a
//! statement matches every principal of that account. Statements naming a specific role or
//! user match that principal only (an assumed-role session matches its role), which is what
//! per-principal rules such as "only the backend role may decrypt, and only for this recipient"
//! rely on.

use std::collections::BTreeMap;

use serde_json::Value;

/// The facts a statement is matched against.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// e.g. `kms:Decrypt`.
    pub action: &'a str,
    pub principal_arn: &'a str,
    pub principal_account: &'a str,
    pub key_arn: &'a str,
    /// The request's encryption context (empty when the operation has none).
    pub context: &'a BTreeMap<String, String>,
    /// `kms:ViaService`, set when another service calls KMS on the caller's behalf.
    pub via_service: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allowed it.
    ImplicitDeny,
    /// A `Deny` statement matched.
    ExplicitDeny,
}

/// Parses a policy document far enough to evaluate it; `Err` describes what is malformed.
pub fn parse(text: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err("the policy has no Statement".into()),
    };
    for s in &statements {
        match s.get("Effect").and_then(Value::as_str) {
            Some("Allow") | Some("Deny") => {}
            _ => return Err("each statement needs Effect Allow or Deny".into()),
        }
        if s.get("Principal").is_none() && s.get("NotPrincipal").is_none() {
            return Err("each statement of a key policy needs a Principal".into());
        }
        if s.get("Action").is_none() && s.get("NotAction").is_none() {
            return Err("each statement needs an Action".into());
        }
    }
    Ok(doc)
}

pub fn evaluate(policy: &Value, req: &Request<'_>) -> Decision {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(s) => vec![s],
        None => Vec::new(),
    };
    let mut allowed = false;
    for s in statements {
        if !applies(s, req) {
            continue;
        }
        match s.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed { Decision::Allow } else { Decision::ImplicitDeny }
}

fn applies(s: &Value, req: &Request<'_>) -> bool {
    let principal_ok = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), _) => principal_matches(p, req),
        (None, Some(np)) => !principal_matches(np, req),
        (None, None) => false,
    };
    let action_ok = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), _) => strings(a).iter().any(|p| glob(p, req.action, true)),
        (None, Some(na)) => !strings(na).iter().any(|p| glob(p, req.action, true)),
        (None, None) => false,
    };
    let resource_ok = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), _) => strings(r).iter().any(|p| glob(p, req.key_arn, false)),
        (None, Some(nr)) => !strings(nr).iter().any(|p| glob(p, req.key_arn, false)),
        // Key policies may omit Resource: it is the key itself.
        (None, None) => true,
    };
    principal_ok && action_ok && resource_ok && conditions_hold(s.get("Condition"), req)
}

fn principal_matches(p: &Value, req: &Request<'_>) -> bool {
    if p.as_str() == Some("*") {
        return true;
    }
    let Some(aws) = p.get("AWS") else { return false };
    let role_of_session = assumed_role_arn(req.principal_arn);
    strings(aws).iter().any(|entry| {
        let entry = entry.as_str();
        entry == "*"
            || entry == req.principal_arn
            || role_of_session.as_deref() == Some(entry)
            || entry == req.principal_account
            || entry == format!("arn:aws:iam::{}:root", req.principal_account)
    })
}

/// `arn:aws:sts::123:assumed-role/Role/session` → `arn:aws:iam::123:role/Role`.
fn assumed_role_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (account, resource) = rest.split_once(':')?;
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

/// A string or a list of strings.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// `*` and `?` wildcards.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (pattern.to_lowercase().chars().collect(), text.to_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The request's values for a condition key (several for multi-valued keys); `None` if absent.
fn context_values(key: &str, req: &Request<'_>) -> Option<Vec<String>> {
    const CONTEXT: &str = "kms:encryptioncontext:";
    let lower = key.to_lowercase();
    if lower.len() > CONTEXT.len() && lower.starts_with(CONTEXT) {
        // As in AWS, the context key named in the condition matches regardless of case (the
        // values keep theirs); `kms:EncryptionContextKeys` is the case-sensitive check.
        let wanted = &lower[CONTEXT.len()..];
        let values: Vec<String> =
            req.context.iter().filter(|(k, _)| k.to_lowercase() == wanted).map(|(_, v)| v.clone()).collect();
        return (!values.is_empty()).then_some(values);
    }
    match lower.as_str() {
        "kms:encryptioncontextkeys" => {
            if req.context.is_empty() {
                None
            } else {
                Some(req.context.keys().cloned().collect())
            }
        }
        "kms:calleraccount" | "aws:principalaccount" => Some(vec![req.principal_account.to_string()]),
        // For an assumed-role session this is the role's ARN, not the session's.
        "aws:principalarn" => {
            Some(vec![assumed_role_arn(req.principal_arn).unwrap_or_else(|| req.principal_arn.to_string())])
        }
        "kms:viaservice" => req.via_service.map(|v| vec![v.to_string()]),
        "kms:encryptionalgorithm" => Some(vec!["SYMMETRIC_DEFAULT".to_string()]),
        _ => None,
    }
}

fn conditions_hold(cond: Option<&Value>, req: &Request<'_>) -> bool {
    let Some(Value::Object(ops)) = cond else { return cond.is_none() };
    ops.iter().all(|(op, block)| {
        let Value::Object(keys) = block else { return false };
        keys.iter().all(|(key, wanted)| operator_holds(op, &context_values(key, req), &strings(wanted)))
    })
}

/// One `Operator: {key: values}` entry, with IAM's semantics for set prefixes, `IfExists`,
/// negation and absent keys.
fn operator_holds(op: &str, actual: &Option<Vec<String>>, wanted: &[String]) -> bool {
    let (set, op) = match op.split_once(':') {
        Some(("ForAnyValue", rest)) => (Some(true), rest),
        Some(("ForAllValues", rest)) => (Some(false), rest),
        _ => (None, op),
    };
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let (base, negated) = match op {
        "StringEquals" => ("eq", false),
        "StringNotEquals" => ("eq", true),
        "StringEqualsIgnoreCase" => ("eqi", false),
        "StringNotEqualsIgnoreCase" => ("eqi", true),
        "StringLike" => ("like", false),
        "StringNotLike" => ("like", true),
        "ArnEquals" | "ArnLike" => ("like", false),
        "ArnNotEquals" | "ArnNotLike" => ("like", true),
        "Null" => {
            let want_null = wanted.first().is_some_and(|w| w == "true");
            return actual.is_none() == want_null;
        }
        // Unknown operators never match: an Allow with one grants nothing.
        _ => return false,
    };
    let one = |value: &str| {
        wanted.iter().any(|w| match base {
            "eq" => w == value,
            "eqi" => w.eq_ignore_ascii_case(value),
            _ => glob(w, value, false),
        })
    };
    match (set, actual) {
        (Some(true), None) => false,
        (Some(false), None) => true,
        (Some(any), Some(values)) => {
            let hits = |v: &String| one(v) != negated;
            if any { values.iter().any(hits) } else { values.iter().all(hits) }
        }
        (None, None) => if_exists || negated,
        (None, Some(values)) => {
            let matched = values.iter().any(|v| one(v));
            matched != negated
        }
    }
}

/// The policy AWS gives a key created without one: the account may do everything.
pub fn default_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// The policy of an AWS managed key (`alias/aws/<service>`): principals of the account may use
/// it for cryptography only through that service (`kms:ViaService`), and may read its metadata
/// and policy directly; nobody may change it.
pub fn aws_managed_policy(account: &str, via_service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "auto-managed-key-policy",
        "Statement": [
            {
                "Sid": "Allow access through the service for all principals in the account that are authorized to use it",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via_service}}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k";
    const ROLE: &str = "arn:aws:iam::111122223333:role/backend";

    fn req<'a>(action: &'a str, principal: &'a str, ctx: &'a BTreeMap<String, String>) -> Request<'a> {
        Request {
            action,
            principal_arn: principal,
            principal_account: "111122223333",
            key_arn: KEY,
            context: ctx,
            via_service: None,
        }
    }

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The chat's rule: the backend role may decrypt only for messages addressed to alice;
    /// the root may administer but not decrypt.
    fn chat_policy() -> Value {
        parse(
            &serde_json::json!({"Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                 "Action": ["kms:Describe*", "kms:Put*", "kms:Get*", "kms:Enable*", "kms:Disable*", "kms:ScheduleKeyDeletion"],
                 "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
                 "Condition": {"StringEquals": {"kms:EncryptionContext:recipient": "alice"}}}
            ]})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn encryption_context_condition_restricts_decrypt_to_the_recipient() {
        let p = chat_policy();
        let alice = ctx(&[("recipient", "alice")]);
        let bob = ctx(&[("recipient", "bob")]);
        let none = ctx(&[]);
        assert_eq!(evaluate(&p, &req("kms:Decrypt", ROLE, &alice)), Decision::Allow);
        assert_eq!(evaluate(&p, &req("kms:Decrypt", ROLE, &bob)), Decision::ImplicitDeny);
        assert_eq!(evaluate(&p, &req("kms:Decrypt", ROLE, &none)), Decision::ImplicitDeny);
        let root = "arn:aws:iam::111122223333:root";
        assert_eq!(evaluate(&p, &req("kms:Decrypt", root, &alice)), Decision::ImplicitDeny);
        assert_eq!(evaluate(&p, &req("kms:DescribeKey", root, &none)), Decision::Allow);
        // An assumed-role session of the backend role is the role.
        let session = "arn:aws:sts::111122223333:assumed-role/backend/lambda-1";
        assert_eq!(evaluate(&p, &req("kms:Decrypt", session, &alice)), Decision::Allow);
    }

    #[test]
    fn explicit_deny_wins_and_negated_operators_hold_for_absent_keys() {
        let p = parse(
            &serde_json::json!({"Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "kms:*"},
                {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt",
                 "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "t1"}}}
            ]})
            .to_string(),
        )
        .unwrap();
        let t1 = ctx(&[("tenant", "t1")]);
        let t2 = ctx(&[("tenant", "t2")]);
        assert_eq!(evaluate(&p, &req("kms:Decrypt", ROLE, &t1)), Decision::Allow);
        assert_eq!(evaluate(&p, &req("kms:Decrypt", ROLE, &t2)), Decision::ExplicitDeny);
        assert_eq!(evaluate(&p, &req("kms:Decrypt", ROLE, &ctx(&[]))), Decision::ExplicitDeny);
        assert_eq!(evaluate(&p, &req("kms:Encrypt", ROLE, &t2)), Decision::Allow);
    }

    #[test]
    fn like_if_exists_and_set_operators() {
        let held = |cond: Value, c: &BTreeMap<String, String>| {
            let p = serde_json::json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Condition": cond}});
            evaluate(&p, &req("kms:Decrypt", ROLE, c)) == Decision::Allow
        };
        let c = ctx(&[("room", "room-42"), ("app", "chat")]);
        assert!(held(serde_json::json!({"StringLike": {"kms:EncryptionContext:room": "room-*"}}), &c));
        assert!(!held(serde_json::json!({"StringLike": {"kms:EncryptionContext:room": "dm-*"}}), &c));
        assert!(held(serde_json::json!({"StringEqualsIfExists": {"kms:EncryptionContext:absent": "x"}}), &c));
        assert!(!held(serde_json::json!({"StringEquals": {"kms:EncryptionContext:absent": "x"}}), &c));
        assert!(held(
            serde_json::json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["room", "app"]}}),
            &c
        ));
        assert!(!held(serde_json::json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["room"]}}), &c));
        assert!(held(serde_json::json!({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["room"]}}), &c));
        assert!(held(
            serde_json::json!({"StringEquals": {"kms:CallerAccount": "111122223333", "aws:PrincipalArn": ROLE}}),
            &c
        ));
        assert!(!held(serde_json::json!({"NumericLessThan": {"kms:CallerAccount": "1"}}), &c));
    }

    #[test]
    fn context_key_names_ignore_case_but_values_do_not() {
        let p = parse(
            &serde_json::json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt",
                "Condition": {"StringEquals": {"kms:EncryptionContext:Recipient": "alice"}}}})
            .to_string(),
        )
        .unwrap();
        let decide = |c: &BTreeMap<String, String>| evaluate(&p, &req("kms:Decrypt", ROLE, c));
        assert_eq!(decide(&ctx(&[("recipient", "alice")])), Decision::Allow);
        assert_eq!(decide(&ctx(&[("RECIPIENT", "alice")])), Decision::Allow);
        assert_eq!(decide(&ctx(&[("recipient", "Alice")])), Decision::ImplicitDeny);
        // The case-sensitive check on key names is kms:EncryptionContextKeys.
        let keys = serde_json::json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
            "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": "recipient"}}}});
        let upper = ctx(&[("Recipient", "alice")]);
        assert_eq!(evaluate(&keys, &req("kms:Decrypt", ROLE, &upper)), Decision::ImplicitDeny);
    }

    #[test]
    fn principal_arn_of_an_assumed_role_session_is_the_role() {
        let p = serde_json::json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": ROLE}}}});
        let none = ctx(&[]);
        let session = "arn:aws:sts::111122223333:assumed-role/backend/lambda-1";
        assert_eq!(evaluate(&p, &req("kms:Decrypt", session, &none)), Decision::Allow);
        let other = "arn:aws:sts::111122223333:assumed-role/frontend/lambda-1";
        assert_eq!(evaluate(&p, &req("kms:Decrypt", other, &none)), Decision::ImplicitDeny);
    }

    #[test]
    fn glob_matches_wildcards() {
        assert!(glob("kms:Gen*", "kms:GenerateDataKey", true));
        assert!(glob("kms:*", "KMS:Decrypt", true));
        assert!(glob("a?c", "abc", false));
        assert!(!glob("a?c", "abbc", false));
        assert!(glob("*", "", false));
    }

    #[test]
    fn malformed_policies_are_rejected() {
        assert!(parse("{").is_err());
        assert!(parse(r#"{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:*"}]}"#).is_err());
        assert!(parse(r#"{"Statement": [{"Effect": "Allow", "Action": "kms:*"}]}"#).is_err());
    }
}
