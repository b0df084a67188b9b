//! The stack's outputs as they answer on this machine.
//!
//! A template's outputs name AWS's URLs (`https://{api}.execute-api.{region}.amazonaws.com/…`),
//! which a client reads to find the stack. Locally the same API answers under the emulator's
//! port, so `emulator up` prints, and hands the web client, the outputs with those URLs
//! rewritten; every other value (ids, names, ARNs) is the same in both places.

use serde_json::{Map, Value, json};

use crate::services::apigw::{ApiSpec, PATH_PREFIX};
use crate::state::Emu;
use crate::template::provision::Stack;

/// `value` with an execute-api URL of one of `apis` rewritten to the emulator's path for it;
/// anything else unchanged.
///
/// The path after the host is kept as is: AWS's invoke URL carries the stage (absent for the
/// `$default` stage) and so does the emulator's, so `https://{id}.execute-api.{region}.{suffix}/prod/x`
/// becomes `{endpoint}/_aws/execute-api/{id}/prod/x`, and `wss://` becomes `ws://`.
pub fn local_url(endpoint: &str, apis: &[ApiSpec], value: &str) -> String {
    let (secure, rest) = match value.split_once("://") {
        Some(("https", rest)) => ("http", rest),
        Some(("wss", rest)) => ("ws", rest),
        _ => return value.to_string(),
    };
    let (host, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let mut labels = host.split('.');
    let (Some(id), Some("execute-api")) = (labels.next(), labels.next()) else {
        return value.to_string();
    };
    if !apis.iter().any(|a| a.id == id) {
        return value.to_string();
    }
    let base = match endpoint.split_once("://") {
        Some((_, authority)) => format!("{secure}://{authority}"),
        None => endpoint.to_string(),
    };
    format!("{base}{PATH_PREFIX}/{id}{path}")
}

/// The stack's outputs, name → value as it answers on this machine.
pub fn outputs(emu: &Emu, stack: &Stack) -> Map<String, Value> {
    stack
        .outputs
        .iter()
        .map(|o| (o.name.clone(), Value::String(local_url(&emu.endpoint, &stack.apis, &o.value))))
        .collect()
}

/// What the web client reads from `config.json`: the region, where Cognito answers, and the
/// local outputs. On AWS the same document is written from the deployed stack's outputs, with
/// `cognitoEndpoint` left out (the client then uses `https://cognito-idp.{region}.amazonaws.com/`).
pub fn web_config(emu: &Emu, stack: &Stack) -> Value {
    json!({
        "region": emu.config.region,
        "cognitoEndpoint": emu.endpoint,
        "consoleUrl": format!("{}/_emulator/ui", emu.endpoint),
        "outputs": outputs(emu, stack),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(id: &str) -> ApiSpec {
        serde_json::from_value(json!({
            "id": id, "name": id, "protocol": "HTTP", "stage": "$default", "routes": []
        }))
        .unwrap_or_else(|e| panic!("an ApiSpec from JSON: {e}"))
    }

    #[test]
    fn execute_api_urls_of_the_stack_point_at_the_emulator() {
        let apis = [api("abc123"), api("ws9")];
        let e = "http://127.0.0.1:4566";
        assert_eq!(
            local_url(e, &apis, "https://abc123.execute-api.us-east-1.amazonaws.com"),
            "http://127.0.0.1:4566/_aws/execute-api/abc123"
        );
        assert_eq!(
            local_url(e, &apis, "https://abc123.execute-api.us-east-1.amazonaws.com/prod/users?x=1"),
            "http://127.0.0.1:4566/_aws/execute-api/abc123/prod/users?x=1"
        );
        assert_eq!(
            local_url(e, &apis, "wss://ws9.execute-api.eu-west-1.amazonaws.com/prod"),
            "ws://127.0.0.1:4566/_aws/execute-api/ws9/prod"
        );
    }

    #[test]
    fn other_values_are_left_alone() {
        let apis = [api("abc123")];
        let e = "http://127.0.0.1:4566";
        for v in [
            "https://other.execute-api.us-east-1.amazonaws.com/prod",
            "https://abc123.s3.amazonaws.com/x",
            "us-east-1_AbCdEf",
            "arn:aws:sns:us-east-1:000000000000:t",
            "http://abc123.execute-api.us-east-1.amazonaws.com",
            "",
        ] {
            assert_eq!(local_url(e, &apis, v), v);
        }
    }
}
