//! The AWS clients: built once from one `SdkConfig`, so that they share one HTTP connection pool,
//! one credential chain and one retry policy.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub iam: aws_sdk_iam::Client,
    /// Whether a custom endpoint (`AWS_ENDPOINT_URL*`) is in use, as with an emulator.
    pub custom_endpoint: Option<String>,
}

impl Clients {
    /// Credentials come from the standard chain; the region is ours (Lambda@Edge lives in us-east-1,
    /// whatever a job-wide `AWS_REGION` says).
    pub async fn load(region: &str) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            // Standard retries back off exponentially from about a second and honour throttling;
            // a few more attempts than the default ride out a brief throttling burst.
            .retry_config(RetryConfig::standard().with_max_attempts(6))
            .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(10)).build())
            .load()
            .await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let custom_endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .ok()
            .or_else(|| config.endpoint_url().map(str::to_owned))
            .filter(|u| !u.trim().is_empty());
        // Emulators and private endpoints do not serve virtual-hosted bucket names.
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(custom_endpoint.is_some()).build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            lambda: aws_sdk_lambda::Client::new(config),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            cloudfront: aws_sdk_cloudfront::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            custom_endpoint,
        }
    }
}
