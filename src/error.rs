//! The one error type. Every variant knows its exit code and says what to do next.

use std::fmt;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit codes, as documented in the README.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_TIMEOUT: i32 = 3;
/// As a shell reports a process ended by SIGINT.
pub const EXIT_INTERRUPTED: i32 = 130;

/// One problem with one input: which input, and what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    pub input: &'static str,
    pub problem: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input `{}`: {}", self.input, self.problem)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Every input problem found, reported together so that one run shows them all.
    #[error("{} invalid input(s):\n{}", .0.len(), list(.0))]
    Inputs(Vec<InputProblem>),

    /// Something in the account or on disk that must be put right before anything is written.
    #[error("{what}")]
    Precondition { what: String, fix: String },

    /// Every problem the checks before the first write found, reported together.
    #[error("{} problem(s) found before anything was written:\n{}", .0.len(), problems(.0))]
    Preflight(Vec<Error>),

    /// An AWS call failed, with AWS's error code and message (the whole chain stays in `source`).
    #[error("{action} failed: {detail}")]
    Aws {
        action: String,
        code: Option<String>,
        /// `Code: message` from AWS, or the error chain when AWS sent neither (no response at all).
        detail: String,
        /// Throttling, a 5xx, or no response at all: worth another try later.
        transient: bool,
        fix: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Reading the source or writing the zip failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The stack operation ended in a failed or rolled-back state.
    #[error("stack {stack} ended in {status}{}{}", reasons_suffix(.reasons), notes_suffix(.notes))]
    StackFailed {
        stack: String,
        status: String,
        /// The first failed events of this operation, with CloudFormation's reason.
        reasons: Vec<String>,
        /// Where things were left (the distribution, say).
        notes: Vec<String>,
    },

    /// SIGINT or SIGTERM (a cancelled job) arrived.
    #[error("interrupted during {during}")]
    Interrupted { during: String, follow: String },

    /// The deploy finished but AWS's state is not what it should be.
    #[error("{what}")]
    Failed { what: String, fix: String },

    /// The run's `timeout` ran out while waiting.
    #[error("timed out after {after} while waiting for {waiting_for}")]
    Timeout { after: String, waiting_for: String },

    /// PublishVersion refused because `$LATEST` is no longer what this run updated: another deploy
    /// changed the function meanwhile. The only failure the publish-race recovery may act on.
    #[error("{function} changed while this run was publishing it (its code or configuration no longer matches what was uploaded): {detail}")]
    PublishRaced { function: String, detail: String },

    /// The credentials the run started with expired before it ended.
    #[error("the AWS credentials expired during {action}: {detail}")]
    CredentialsExpired { action: String, detail: String },

    /// No source of the credential chain had credentials.
    #[error("no AWS credentials found{}: {cause}", profile.as_deref().map(|p| format!(" for profile `{p}` (AWS_PROFILE)")).unwrap_or_default())]
    NoCredentials { profile: Option<String>, cause: String },

    /// AWS did not take the credentials (unknown key, wrong secret, expired session).
    #[error("AWS refused the credentials: {detail}")]
    CredentialsRejected { detail: String },

    /// Nothing answered at the endpoint.
    #[error("AWS could not be reached at {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },

    /// DeleteStack (of a failed first launch) ended in DELETE_FAILED.
    #[error("stack {stack} could not be deleted (DELETE_FAILED){}", reasons_suffix(.reasons))]
    DeleteFailed { stack: String, reasons: Vec<String> },
}

fn list(problems: &[InputProblem]) -> String {
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
}

fn problems(errors: &[Error]) -> String {
    errors.iter().map(|e| format!("  - {e}\n    fix: {}", e.help())).collect::<Vec<_>>().join("\n")
}

fn notes_suffix(notes: &[String]) -> String {
    notes.iter().map(|n| format!("\n{n}")).collect()
}

fn reasons_suffix(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(":\n{}", reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))
    }
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            // Found before anything is written: nothing was changed.
            Error::Inputs(_)
            | Error::Precondition { .. }
            | Error::Preflight(_)
            | Error::NoCredentials { .. }
            | Error::CredentialsRejected { .. }
            | Error::Unreachable { .. } => EXIT_INVALID,
            Error::Interrupted { .. } => EXIT_INTERRUPTED,
            Error::Timeout { .. } => EXIT_TIMEOUT,
            Error::Aws { .. }
            | Error::Io { .. }
            | Error::StackFailed { .. }
            | Error::Failed { .. }
            | Error::PublishRaced { .. }
            | Error::CredentialsExpired { .. }
            | Error::DeleteFailed { .. } => EXIT_FAILED,
        }
    }

    /// A one-line title for annotations.
    pub fn title(&self) -> &'static str {
        match self {
            Error::Inputs(_) => "Invalid inputs",
            Error::Precondition { .. } | Error::Preflight(_) => "Precondition not met",
            Error::Interrupted { .. } => "Interrupted",
            Error::Aws { .. } => "AWS call failed",
            Error::Io { .. } => "File error",
            Error::StackFailed { .. } => "Stack operation failed",
            Error::Failed { .. } => "Deploy not verified",
            Error::Timeout { .. } => "Timed out",
            Error::PublishRaced { .. } => "Another deploy raced this one",
            Error::CredentialsExpired { .. } => "Credentials expired",
            Error::DeleteFailed { .. } => "Stack deletion failed",
            Error::NoCredentials { .. } => "No AWS credentials",
            Error::CredentialsRejected { .. } => "Credentials refused",
            Error::Unreachable { .. } => "AWS unreachable",
        }
    }

    /// What the user should do about it.
    pub fn help(&self) -> String {
        match self {
            Error::Inputs(_) => {
                "Set each input named above (as `with:` in the workflow, or INPUT_<NAME> in the environment) and run again; nothing was changed in AWS.".into()
            }
            Error::Precondition { fix, .. } | Error::Aws { fix, .. } | Error::Failed { fix, .. } => fix.clone(),
            Error::Preflight(_) => "Fix each problem above (each with its fix) and run again; nothing was changed in AWS.".into(),
            Error::Interrupted { follow, .. } => follow.clone(),
            Error::Io { .. } => "Check that the path exists and is readable, and that the temporary directory has space.".into(),
            Error::StackFailed { stack, .. } => format!(
                "Read the stack events above (or in the CloudFormation console for {stack}), fix the template or parameters, and run again."
            ),
            Error::Timeout { .. } => "AWS may still finish on its own: follow it in the CloudFormation and CloudFront consoles, or run again with a longer `timeout`.".into(),
            Error::PublishRaced { .. } => "Another deploy is probably running on the same function: let it finish, then run again. Use `concurrency:` in the workflow to serialise releases.".into(),
            Error::CredentialsExpired { .. } => "Credentials from the environment are not refreshed during a run. AWS goes on with what was already started: run again once it has finished, and the run picks up from there. For runs this long, ask for longer sessions: with aws-actions/configure-aws-credentials, set `role-duration-seconds` (default 3600) above this step's `timeout`, and raise the role's MaxSessionDuration to match.".into(),
            Error::NoCredentials { profile: Some(p), .. } => format!(
                "Define profile `{p}` (aws configure --profile {p}, or aws configure sso), or unset AWS_PROFILE to use another source. Nothing was changed in AWS."
            ),
            Error::NoCredentials { profile: None, .. } => "Give credentials one of the ways AWS tools look for them: in GitHub Actions, aws-actions/configure-aws-credentials before this step; on a laptop, `aws configure` (or `aws sso login`) and AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Nothing was changed in AWS.".into(),
            Error::CredentialsRejected { .. } => "Check the credentials this run uses (aws sts get-caller-identity): a key that was deleted or mistyped, a secret that does not match, or a session that has expired (refresh it). Nothing was changed in AWS.".into(),
            Error::Unreachable { endpoint, .. } => format!(
                "Check the network (a proxy, a firewall, DNS) and the endpoint ({endpoint}; AWS_ENDPOINT_URL overrides it), then run again. Nothing was changed in AWS."
            ),
            Error::DeleteFailed { stack, .. } => format!(
                "Read why in the stack's events (aws cloudformation describe-stack-events --stack-name {stack}); finish deleting it in the CloudFormation console (a replicated Lambda@Edge function can take hours to become deletable), then run again."
            ),
        }
    }

    pub fn precondition(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Precondition { what: what.into(), fix: fix.into() }
    }

    pub fn failed(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Failed { what: what.into(), fix: fix.into() }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// The error of the first call a run makes (GetCallerIdentity): no credentials, credentials AWS
    /// refuses, or an endpoint that does not answer, each said as such.
    pub fn access<E>(e: SdkError<E, Response>, endpoint: &str) -> Error
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(c) = s.downcast_ref::<aws_credential_types::provider::error::CredentialsError>() {
                let profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
                return Error::NoCredentials { profile, cause: innermost(c) };
            }
            source = s.source();
        }
        match (&e, e.code()) {
            (_, Some(code)) => {
                Error::CredentialsRejected { detail: format!("{code}: {}", e.message().unwrap_or("no message")) }
            }
            (SdkError::TimeoutError(_), _) => {
                Error::Unreachable { endpoint: endpoint.to_owned(), detail: "no answer in time".into() }
            }
            // A proxy's or a captive portal's page, or a service that is not STS.
            (SdkError::ServiceError(_) | SdkError::ResponseError(_), None) => Error::Unreachable {
                endpoint: endpoint.to_owned(),
                detail: format!(
                    "something answered, but not as AWS does (HTTP {})",
                    e.raw_response().map(|r| r.status().as_u16().to_string()).unwrap_or_else(|| "?".into())
                ),
            },
            _ => Error::Unreachable { endpoint: endpoint.to_owned(), detail: innermost(&e) },
        }
    }

    /// Whether this stops the run before any write (exit 2), to be collected with the others.
    pub fn is_precondition(&self) -> bool {
        matches!(self, Error::Inputs(_) | Error::Precondition { .. } | Error::Preflight(_))
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Aws { transient: true, .. })
    }
}

/// Wraps an SDK error with what we were doing, keeping AWS's code and message.
pub fn aws<E>(action: impl Into<String>) -> impl FnOnce(SdkError<E, Response>) -> Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let action = action.into();
    move |e| {
        let code = e.code().map(str::to_owned);
        let transient = match &e {
            // A user error (a malformed endpoint, say) fails the same way every time.
            SdkError::DispatchFailure(d) => !d.is_user(),
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(s) => {
                let status = s.raw().status();
                status.is_server_error() || status.as_u16() == 429 || is_throttling(code.as_deref())
            }
            _ => false,
        };
        let mut fix = fix_for(code.as_deref());
        let status = e.raw_response().map(|r| r.status().as_u16());
        let detail = match (e.code(), e.message(), status) {
            (Some(c), Some(m), _) => format!("{c}: {m}"),
            (Some(c), None, _) => c.to_owned(),
            (None, Some(m), Some(status)) => format!("HTTP {status}: {m}"),
            _ => match unanswered(&e) {
                Some(why) => {
                    fix = "AWS never answered: check the network (a proxy, a firewall) and the endpoint (AWS_ENDPOINT_URL), then run again; what was already started in AWS goes on.".into();
                    why
                }
                None => DisplayErrorContext(&e).to_string(),
            },
        };
        crate::log::debug(&format!("{action}: {}", DisplayErrorContext(&e)));
        if is_expired(code.as_deref()) {
            return Error::CredentialsExpired { action, detail };
        }
        Error::Aws { action, code, detail, transient, fix, source: Box::new(e) }
    }
}

/// When no answer came at all: what happened, in words, with the innermost cause (such as
/// "Connection refused") rather than the SDK's debug dump.
fn unanswered<E, R>(e: &SdkError<E, R>) -> Option<String> {
    let cause = |e: &(dyn std::error::Error + 'static)| {
        let mut last = e;
        while let Some(next) = last.source() {
            last = next;
        }
        last.to_string()
    };
    match e {
        SdkError::TimeoutError(_) => Some(format!(
            "no answer in time (each attempt may take {} s, the call with its retries {} s)",
            crate::aws::ATTEMPT_TIMEOUT.as_secs(),
            crate::aws::OPERATION_TIMEOUT.as_secs()
        )),
        SdkError::DispatchFailure(d) if d.is_timeout() => Some("the connection timed out".into()),
        SdkError::DispatchFailure(d) => {
            let why = d.as_connector_error().map(|c| cause(c)).unwrap_or_else(|| "no connection".into());
            Some(format!("could not reach AWS: {why}"))
        }
        _ => None,
    }
}

/// The deepest cause of an error, which says what happened in words ("Connection refused").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// STS credentials past their expiry: every later call fails the same way.
fn is_expired(code: Option<&str>) -> bool {
    matches!(code, Some("ExpiredToken" | "ExpiredTokenException"))
}

fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown"
                | "RequestThrottled"
        )
    )
}

fn fix_for(code: Option<&str>) -> String {
    match code {
        Some("AccessDenied" | "AccessDeniedException" | "AccessDeniedError") => {
            "Grant the missing permission to the credentials this step uses (see the README's IAM policy).".into()
        }
        Some("InvalidClientTokenId" | "UnrecognizedClientException") => {
            "Refresh the AWS credentials (for GitHub OIDC: aws-actions/configure-aws-credentials before this step)."
                .into()
        }
        c if is_throttling(c) => "AWS throttled the call beyond the retries: run again in a minute.".into(),
        _ => "Read AWS's message above; fix the cause and run again.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GetCallerIdentity's answers as the SDK hands them over: an error AWS coded, and a page from
    /// something that is not AWS (a proxy, a captive portal).
    #[test]
    fn the_first_calls_failures_are_said_as_what_they_are() {
        use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;

        let answer = |status: u16, code: Option<&str>| {
            let mut meta = ErrorMetadata::builder().message("The security token included in the request is expired");
            if let Some(code) = code {
                meta = meta.code(code);
            }
            let response = Response::new(status.try_into().unwrap(), SdkBody::from("<html>"));
            SdkError::service_error(GetCallerIdentityError::generic(meta.build()), response)
        };
        let e = Error::access(answer(403, Some("ExpiredToken")), "https://sts.us-east-1.amazonaws.com");
        assert!(matches!(e, Error::CredentialsRejected { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "AWS refused the credentials: ExpiredToken: The security token included in the request is expired"
        );
        assert_eq!(e.exit_code(), 2);
        assert!(e.help().contains("expired (refresh it)"), "{}", e.help());

        let e = Error::access(answer(404, None), "http://10.0.0.1");
        assert_eq!(
            e.to_string(),
            "AWS could not be reached at http://10.0.0.1: something answered, but not as AWS does (HTTP 404)"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Error::Inputs(vec![]).exit_code(), 2);
        assert_eq!(Error::precondition("x", "y").exit_code(), 2);
        assert_eq!(Error::failed("x", "y").exit_code(), 1);
        let t = Error::Timeout { after: "1m".into(), waiting_for: "stack".into() };
        assert_eq!(t.exit_code(), 3);
    }

    #[test]
    fn input_errors_list_every_problem() {
        let e = Error::Inputs(vec![
            InputProblem { input: "stack-name", problem: "required".into() },
            InputProblem { input: "wait", problem: "expected true or false".into() },
        ]);
        let text = e.to_string();
        assert!(text.contains("input `stack-name`: required"), "{text}");
        assert!(text.contains("input `wait`: expected true or false"), "{text}");
    }
}
