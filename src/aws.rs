//! The AWS clients: built once from one `SdkConfig`, so that they share one HTTP connection pool,
//! one credential chain and one retry policy.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Standard retries back off exponentially from about a second and honour throttling; a few more
/// attempts than the default ride out a brief throttling burst.
pub const MAX_ATTEMPTS: u32 = 6;

/// How long one attempt of a call may go unanswered, and the call with its retries. The SDK sets
/// only a connect timeout by default: an endpoint that accepts the connection and never answers
/// would hold the run for its whole `timeout`. Every call but an upload answers in well under a
/// second when AWS is well.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// S3 carries the zip (up to 50 MB): room for a slow uplink.
const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(300);
const S3_OPERATION_TIMEOUT: Duration = Duration::from_secs(900);
/// The first call (GetCallerIdentity) answers whether AWS can be reached at all: a network that
/// drops packets says so in under 10 s, not after a minute of the release calls' patient retries.
const IDENTIFY_ATTEMPTS: u32 = 3;
const IDENTIFY_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IDENTIFY_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const IDENTIFY_OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub iam: aws_sdk_iam::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sts: aws_sdk_sts::Client,
    /// Where STS is reached, to name it when it cannot be.
    pub sts_endpoint: String,
    /// Whether a custom endpoint (`AWS_ENDPOINT_URL*`) is in use, as with an emulator.
    pub custom_endpoint: Option<String>,
}

impl Clients {
    /// Credentials come from the standard chain; the region is ours (Lambda@Edge lives in us-east-1,
    /// whatever a job-wide `AWS_REGION` says).
    pub async fn load(region: &str) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(timeouts(ATTEMPT_TIMEOUT, OPERATION_TIMEOUT))
            .load()
            .await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let custom_endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .ok()
            .or_else(|| config.endpoint_url().map(str::to_owned))
            .filter(|u| !u.trim().is_empty());
        let sts_endpoint = std::env::var("AWS_ENDPOINT_URL_STS")
            .ok()
            .or_else(|| config.endpoint_url().map(str::to_owned))
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| {
                let region = config.region().map(|r| r.as_ref().to_owned()).unwrap_or_else(|| "us-east-1".into());
                format!("https://sts.{region}.amazonaws.com")
            });
        // Emulators and private endpoints do not serve virtual-hosted bucket names.
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(custom_endpoint.is_some())
            .timeout_config(timeouts(S3_ATTEMPT_TIMEOUT, S3_OPERATION_TIMEOUT))
            .interceptor(RetryLog)
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config).interceptor(RetryLog).build(),
            ),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(config).interceptor(RetryLog).build(),
            ),
            cloudfront: aws_sdk_cloudfront::Client::from_conf(
                aws_sdk_cloudfront::config::Builder::from(config).interceptor(RetryLog).build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(config).interceptor(RetryLog).build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(config).interceptor(RetryLog).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(config)
                    .retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(IDENTIFY_ATTEMPTS)
                            .with_max_backoff(Duration::from_secs(1)),
                    )
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(IDENTIFY_CONNECT_TIMEOUT)
                            .operation_attempt_timeout(IDENTIFY_ATTEMPT_TIMEOUT)
                            .operation_timeout(IDENTIFY_OPERATION_TIMEOUT)
                            .build(),
                    )
                    .interceptor(RetryLog)
                    .build(),
            ),
            sts_endpoint,
            custom_endpoint,
        }
    }

    /// Who this run acts as, before anything else is read or written. Finding the credentials and
    /// reaching AWS are where a first run on a laptop fails; said here, each failure names its
    /// cause (no credentials, credentials refused, endpoint unreachable) and exits 2, since
    /// nothing was touched.
    pub async fn identify(&self) -> crate::error::Result<String> {
        let endpoint = &self.sts_endpoint;
        let who = self.sts.get_caller_identity().send().await.map_err(|e| crate::error::Error::access(e, endpoint));
        match who {
            Ok(who) => Ok(who.arn.unwrap_or_default()),
            Err(crate::error::Error::NoCredentials { profile: Some(profile), .. }) => {
                // The default chain moves past a profile it cannot use and reports the last source
                // it tried; whether the profile exists is what helps.
                let fs = aws_types::os_shim_internal::Fs::real();
                let env = aws_types::os_shim_internal::Env::real();
                let cause = match aws_config::profile::load(&fs, &env, &Default::default(), None).await {
                    Ok(set) if set.get_profile(&profile).is_none() => format!(
                        "there is no profile `{profile}` in the AWS config and credentials files (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE)"
                    ),
                    Ok(_) => format!(
                        "profile `{profile}` gives no credentials (no keys, role, SSO session or credential_process; an SSO session may need `aws sso login --profile {profile}`)"
                    ),
                    Err(e) => format!("the AWS config files could not be read: {e}"),
                };
                Err(crate::error::Error::NoCredentials { profile: Some(profile), cause })
            }
            Err(e) => Err(e),
        }
    }
}

fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Says so in the log when a call is tried again, so that a slow or failing endpoint is never
/// silence: the SDK's retries are otherwise invisible until the last one fails.
#[derive(Debug)]
struct RetryLog;

impl Intercept for RetryLog {
    fn name(&self) -> &'static str {
        "RetryLog"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map(|a| a.attempts()).unwrap_or(1);
        if attempt > 1 {
            let call = cfg.load::<Metadata>().map(|m| format!("{} {}", m.service(), m.name())).unwrap_or_default();
            let most = cfg.load::<RetryConfig>().map(|r| r.max_attempts()).unwrap_or(MAX_ATTEMPTS);
            crate::log::info(&format!(
                "{call}: no answer or a transient error; trying again (attempt {attempt} of {most})"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::aws;

    async fn cloudformation_at(url: &str, attempt: Duration, operation: Duration) -> aws_sdk_cloudformation::Client {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_cloudformation::config::Credentials::new("k", "s", None, None, "test"))
            .retry_config(RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(10)))
            .timeout_config(timeouts(attempt, operation))
            .load()
            .await;
        aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&config).interceptor(RetryLog).build(),
        )
    }

    #[tokio::test]
    async fn an_endpoint_that_never_answers_is_a_timeout_not_a_hang() {
        // Accepts connections, never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let _held = std::thread::spawn(move || {
            let kept: Vec<_> = listener.incoming().take(4).collect();
            std::thread::sleep(Duration::from_secs(30));
            drop(kept);
        });
        let cfn = cloudformation_at(&url, Duration::from_millis(300), Duration::from_secs(1)).await;
        let started = std::time::Instant::now();
        let e = aws("DescribeStacks site")(cfn.describe_stacks().stack_name("site").send().await.unwrap_err());
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let text = e.to_string();
        assert!(text.starts_with("DescribeStacks site failed: no answer in time"), "{text}");
        assert!(e.help().contains("AWS never answered"), "{}", e.help());
        assert!(e.is_transient());
    }

    #[tokio::test]
    async fn a_closed_port_says_connection_refused_not_a_debug_dump() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let cfn = cloudformation_at(&url, Duration::from_secs(2), Duration::from_secs(5)).await;
        let e = aws("DescribeStacks site")(cfn.describe_stacks().stack_name("site").send().await.unwrap_err());
        let text = e.to_string();
        assert!(text.contains("could not reach AWS") && text.contains("refused"), "{text}");
        assert!(!text.contains("DispatchFailure"), "{text}");
    }
}
