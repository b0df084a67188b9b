//! What a confirmed sign-up sets up (the Cognito PostConfirmation trigger): the user's own KMS
//! key, their notification topic with their e-mail subscribed, and their profile row.
//!
//! Every step is idempotent, because Cognito retries a trigger that fails or times out: the
//! key is found again through its alias `alias/chat-user-{sub}`, CreateTopic and Subscribe
//! return the existing topic and subscription, and the profile is written only if absent.
//!
//! The key policy lets the backend's roles use the key only for this user: data keys can be
//! generated and unwrapped only with an encryption context whose `recipient` is this user.
//! Nobody else, the account's administrators included, is granted Decrypt.

use serde_json::json;

use crate::chat::Caller;
use crate::store::{Profile, Store};

pub struct Onboarding {
    pub kms: aws_sdk_kms::Client,
    pub sns: aws_sdk_sns::Client,
    pub store: Store,
    /// Roles of the functions that encrypt and decrypt messages.
    pub crypto_roles: Vec<String>,
    /// The account, for the administrators' statement (`arn:aws:iam::{account}:root`).
    pub account: String,
}

#[derive(Debug, thiserror::Error)]
#[error("onboarding {step}: {message}")]
pub struct OnboardError {
    pub step: &'static str,
    pub message: String,
}

fn fail(step: &'static str) -> impl Fn(String) -> OnboardError {
    move |message| OnboardError { step, message }
}

/// The key policy of a user's key.
pub fn key_policy(account: &str, crypto_roles: &[String], sub: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Id": format!("chat-user-{sub}"),
        "Statement": [
            {
                "Sid": "KeyAdministration",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
                "Action": [
                    "kms:Describe*", "kms:List*", "kms:Get*", "kms:Enable*", "kms:Disable*", "kms:Put*",
                    "kms:Update*", "kms:Revoke*", "kms:TagResource", "kms:UntagResource",
                    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias"
                ],
                "Resource": "*"
            },
            {
                "Sid": "UseOnlyForThisRecipient",
                "Effect": "Allow",
                "Principal": { "AWS": crypto_roles },
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
                "Condition": { "StringEquals": { "kms:EncryptionContext:recipient": sub } }
            }
        ]
    })
}

impl Onboarding {
    async fn user_key(&self, sub: &str) -> Result<String, OnboardError> {
        let alias = format!("alias/chat-user-{sub}");
        if let Ok(found) = self.kms.describe_key().key_id(&alias).send().await
            && let Some(meta) = found.key_metadata
        {
            return Ok(meta.key_id);
        }
        let policy = key_policy(&self.account, &self.crypto_roles, sub);
        let key = self
            .kms
            .create_key()
            .description(format!("chat messages for user {sub}"))
            .policy(policy.to_string())
            // The administrators' statement keeps the key manageable; the creating role itself
            // is deliberately not granted PutKeyPolicy.
            .bypass_policy_lockout_safety_check(true)
            .send()
            .await
            .map_err(|e| fail("CreateKey")(format!("{:?}", e.into_service_error())))?
            .key_metadata
            .ok_or_else(|| fail("CreateKey")("no key metadata".into()))?
            .key_id;
        match self.kms.create_alias().alias_name(&alias).target_key_id(&key).send().await {
            Ok(_) => Ok(key),
            // A concurrent retry won: use its key (this one stays unused).
            Err(_) => {
                let found = self.kms.describe_key().key_id(&alias).send().await;
                found
                    .ok()
                    .and_then(|f| f.key_metadata)
                    .map(|m| m.key_id)
                    .ok_or_else(|| fail("CreateAlias")("alias neither created nor found".into()))
            }
        }
    }

    async fn user_topic(&self, sub: &str, email: &str) -> Result<String, OnboardError> {
        let topic = self
            .sns
            .create_topic()
            .name(format!("chat-user-{sub}"))
            .send()
            .await
            .map_err(|e| fail("CreateTopic")(format!("{:?}", e.into_service_error())))?
            .topic_arn
            .unwrap_or_default();
        if !email.is_empty() {
            self.sns
                .subscribe()
                .topic_arn(&topic)
                .protocol("email")
                .endpoint(email)
                .send()
                .await
                .map_err(|e| fail("Subscribe")(format!("{:?}", e.into_service_error())))?;
        }
        Ok(topic)
    }

    /// Sets a confirmed user up; returns their profile (the existing one on a retry).
    pub async fn onboard(&self, caller: &Caller, email: &str, at: i64) -> Result<Profile, OnboardError> {
        if let Some(p) = self.store.profile(&caller.sub).await.map_err(|e| fail("GetItem")(e.to_string()))? {
            return Ok(p);
        }
        let key_id = self.user_key(&caller.sub).await?;
        let topic_arn = self.user_topic(&caller.sub, email).await?;
        let profile = Profile {
            sub: caller.sub.clone(),
            username: caller.username.clone(),
            email: email.to_string(),
            key_id,
            topic_arn,
            created_at: at,
        };
        self.store.put_profile(&profile).await.map_err(|e| fail("PutItem")(e.to_string()))?;
        Ok(profile)
    }
}
