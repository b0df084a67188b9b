//! The one error type of the template module.
//!
//! Messages follow the shape CloudFormation uses, so that a developer who deploys the same
//! template to AWS sees the same complaint: structural problems found while reading the template
//! are "Template format error: …", problems found while evaluating an intrinsic function are
//! "Template error: …", and parameter or dependency problems are reported as CloudFormation's
//! validation errors word for word ("Parameters: [X] must have values").

/// Why a template could not be read or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template is not well formed: bad YAML/JSON, unknown tag, missing `Type`, reference to
    /// an undeclared resource, …
    #[error("Template format error: {0}")]
    Format(String),
    /// An intrinsic function could not be evaluated (bad arguments, missing mapping key, a
    /// resource the provisioner does not know, …).
    #[error("Template error: {0}")]
    Eval(String),
    /// Parameter values or resource dependencies rejected before anything is evaluated; the
    /// message is complete as it stands.
    #[error("{0}")]
    Validation(String),
    /// A feature of CloudFormation that this emulator does not implement.
    #[error("Template error: {0} is not supported by the emulator")]
    Unsupported(String),
}

impl TemplateError {
    pub(crate) fn format(msg: impl Into<String>) -> Self {
        TemplateError::Format(msg.into())
    }

    pub(crate) fn eval(msg: impl Into<String>) -> Self {
        TemplateError::Eval(msg.into())
    }

    pub(crate) fn validation(msg: impl Into<String>) -> Self {
        TemplateError::Validation(msg.into())
    }

    pub(crate) fn unsupported(what: impl Into<String>) -> Self {
        TemplateError::Unsupported(what.into())
    }
}

/// `[A, B, C]`, the way CloudFormation lists names inside its messages.
pub(crate) fn bracket_list<S: AsRef<str>>(names: &[S]) -> String {
    let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    format!("[{}]", names.join(", "))
}
