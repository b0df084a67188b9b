//! Targets and what each one can be asked.
//!
//! | variable | meaning |
//! |---|---|
//! | `CONFORMANCE_TARGET` | `emulator` (default), `moto`, `localstack`, `aws` |
//! | `CONFORMANCE_ENDPOINT` | the peer's URL (defaults: moto `http://127.0.0.1:5000`, LocalStack `http://127.0.0.1:4566`) |
//! | `CONFORMANCE_SERVICES` | comma-separated services to treat as supported instead of the target's defaults (e.g. a licensed LocalStack) |
//! | `CONFORMANCE_RECORD_DIR` | journal every scenario's calls to `{dir}/{group}__{name}.jsonl`, for `emulator replay` ([`crate::journal`]) |
//! | `CONFORMANCE_ALLOW_AWS` | must be `1` for the `aws` target, which creates (and deletes) real resources |
//! | `CONFORMANCE_WS_URL`, `CONFORMANCE_WS_MANAGEMENT_URL` | `aws`: a deployed WebSocket API's `wss://` URL and its `@connections` endpoint |

use std::fmt;

/// What a scenario needs from a target: an AWS service, or a capability beyond the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    S3,
    Kms,
    Sns,
    /// SNS delivering to an `http` endpoint on this machine.
    SnsHttpDelivery,
    Cognito,
    /// Reading the codes Cognito sends (the emulator's mailbox).
    CognitoCodes,
    DynamoDb,
    DynamoDbStreams,
    /// Items whose TTL has passed are deleted while the test waits.
    TtlExpiry,
    /// A WebSocket API with real sockets and its `@connections` management endpoint.
    ApiGatewayWebSocket,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::S3,
        Service::Kms,
        Service::Sns,
        Service::SnsHttpDelivery,
        Service::Cognito,
        Service::CognitoCodes,
        Service::DynamoDb,
        Service::DynamoDbStreams,
        Service::TtlExpiry,
        Service::ApiGatewayWebSocket,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Kms => "kms",
            Service::Sns => "sns",
            Service::SnsHttpDelivery => "sns-http",
            Service::Cognito => "cognito",
            Service::CognitoCodes => "cognito-codes",
            Service::DynamoDb => "dynamodb",
            Service::DynamoDbStreams => "dynamodbstreams",
            Service::TtlExpiry => "ttl-expiry",
            Service::ApiGatewayWebSocket => "apigw-websocket",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|x| x.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Emulator,
    Moto,
    LocalStack,
    Aws,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Target {
    pub const ALL: [Target; 4] = [Target::Emulator, Target::Moto, Target::LocalStack, Target::Aws];

    pub fn name(self) -> &'static str {
        match self {
            Target::Emulator => "emulator",
            Target::Moto => "moto",
            Target::LocalStack => "localstack",
            Target::Aws => "aws",
        }
    }

    pub fn parse(s: &str) -> Result<Target, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown CONFORMANCE_TARGET {s:?} (emulator, moto, localstack, aws)"))
    }

    /// `CONFORMANCE_TARGET`, `emulator` when unset.
    pub fn from_env() -> Result<Target, String> {
        match std::env::var("CONFORMANCE_TARGET") {
            Ok(s) if !s.trim().is_empty() => Target::parse(&s),
            _ => Ok(Target::Emulator),
        }
    }

    /// The endpoint of a peer when `CONFORMANCE_ENDPOINT` is unset.
    pub fn default_endpoint(self) -> Option<&'static str> {
        match self {
            Target::Moto => Some("http://127.0.0.1:5000"),
            Target::LocalStack => Some("http://127.0.0.1:4566"),
            Target::Emulator | Target::Aws => None,
        }
    }

    /// Whether the target offers `service`, or why not. `CONFORMANCE_SERVICES` overrides the
    /// defaults (for instance for a LocalStack with a licence).
    pub fn supports(self, service: Service) -> Result<(), String> {
        if let Ok(list) = std::env::var("CONFORMANCE_SERVICES")
            && !list.trim().is_empty()
        {
            let on = list.split(',').filter_map(Service::parse).any(|s| s == service);
            return if on { Ok(()) } else { Err(format!("{service} is not in CONFORMANCE_SERVICES={list}")) };
        }
        self.default_support(service)
    }

    fn default_support(self, service: Service) -> Result<(), String> {
        use Service::*;
        match (self, service) {
            (Target::Emulator, _) => Ok(()),
            (Target::Moto, ApiGatewayWebSocket) => {
                Err("moto has no WebSocket endpoints (no real sockets, no GoneException)".into())
            }
            (Target::Moto, TtlExpiry) => Err("moto never expires items by TTL".into()),
            (Target::Moto, _) => Ok(()),
            (Target::LocalStack, S3 | Kms | Sns | SnsHttpDelivery) => Ok(()),
            (Target::LocalStack, Cognito | CognitoCodes | ApiGatewayWebSocket) => {
                Err("LocalStack community edition: Cognito and API Gateway v2 need a licence".into())
            }
            (Target::LocalStack, DynamoDb | DynamoDbStreams | TtlExpiry) => {
                Err("LocalStack host mode: DynamoDB downloads a JDK and DynamoDB Local at first use".into())
            }
            (Target::Aws, CognitoCodes) => Err("real Cognito mails its codes to real addresses".into()),
            (Target::Aws, SnsHttpDelivery) => Err("SNS in AWS cannot reach an endpoint on this machine".into()),
            (Target::Aws, TtlExpiry) => Err("AWS deletes expired items within days, not while a test waits".into()),
            (Target::Aws, ApiGatewayWebSocket) => {
                if std::env::var("CONFORMANCE_WS_URL").is_ok() && std::env::var("CONFORMANCE_WS_MANAGEMENT_URL").is_ok()
                {
                    Ok(())
                } else {
                    Err("needs a deployed WebSocket API: set CONFORMANCE_WS_URL and CONFORMANCE_WS_MANAGEMENT_URL"
                        .into())
                }
            }
            (Target::Aws, _) => Ok(()),
        }
    }

    /// Whether this target is the reference the snapshots are written from.
    pub fn is_reference(self) -> bool {
        self == Target::Emulator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_peers_declare_their_limits() {
        for t in Target::ALL {
            assert_eq!(Target::parse(t.name()).unwrap(), t);
        }
        for s in Service::ALL {
            assert_eq!(Service::parse(s.name()), Some(s));
        }
        assert!(Target::parse("nope").is_err());
        assert!(Target::Emulator.default_support(Service::ApiGatewayWebSocket).is_ok());
        assert!(Target::Moto.default_support(Service::ApiGatewayWebSocket).is_err());
        assert!(Target::Moto.default_support(Service::Cognito).is_ok());
        assert!(Target::LocalStack.default_support(Service::S3).is_ok());
        assert!(Target::LocalStack.default_support(Service::DynamoDb).is_err());
        assert!(Target::LocalStack.default_support(Service::Cognito).is_err());
        assert!(Target::Aws.default_support(Service::CognitoCodes).is_err());
    }
}
