//! E-mail notice of a new message through the recipient's own SNS topic. The notice names the
//! sender and the conversation, never the message: the text is only ever readable through the
//! chat, decrypted for its reader.

use crate::store::Profile;

pub fn notice(sender: &str, conversation_title: &str) -> (String, String) {
    let subject = format!("New message from {sender}");
    let body = if conversation_title.is_empty() {
        format!("{sender} sent you a message. Open the chat to read it.")
    } else {
        format!("{sender} sent a message in {conversation_title}. Open the chat to read it.")
    };
    (subject, body)
}

/// Publishes the notice to the recipient's topic.
pub async fn notify(sns: &aws_sdk_sns::Client, recipient: &Profile, sender: &str, title: &str) -> Result<(), String> {
    if recipient.topic_arn.is_empty() {
        return Ok(());
    }
    let (subject, body) = notice(sender, title);
    sns.publish()
        .topic_arn(&recipient.topic_arn)
        .subject(subject)
        .message(body)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{:?}", e.into_service_error()))
}
