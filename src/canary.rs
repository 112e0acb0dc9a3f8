//! The staged release's own step: CloudFront continuous deployment. The staging distribution and
//! the policy that routes requests to it (looked up), what a stack needs to be released in stages
//! (decided, pure), and the error-rate gate of the bake (CloudWatch).
//!
//! The stack stays the source of truth: every change (the canary on, its weight, the promotion, the
//! abort) is a stack update of the template's parameters below, never `UpdateDistributionWithStagingConfig`,
//! which would leave the stack behind the live configuration.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_smithy_types::DateTime;

use crate::aws::Clients;
use crate::distribution::{self, DistributionInfo};
use crate::error::{aws, Error, Result};
use crate::log;
use crate::poll::Poll;
use crate::stack::{self, StackInfo};
use crate::template::TemplateInfo;

/// The staging distribution's association takes this version ARN (`NONE`: the primary's version).
pub const CANDIDATE: &str = "CandidateVersion";
/// The policy's `Enabled`.
pub const ENABLED: &str = "CanaryEnabled";
/// `header` or `weight`: the policy's traffic configuration.
pub const MODE: &str = "CanaryMode";
pub const HEADER: &str = "CanaryHeader";
pub const HEADER_VALUE: &str = "CanaryHeaderValue";
pub const WEIGHT: &str = "CanaryWeight";
/// Every parameter a staged release sets, which `parameters` may not.
pub const PARAMETERS: &[&str] = &[CANDIDATE, ENABLED, MODE, HEADER, HEADER_VALUE, WEIGHT];

/// ContinuousDeploymentSingleHeaderConfig: the header's name starts with it.
pub const HEADER_PREFIX: &str = "aws-cf-cd-";
/// ContinuousDeploymentSingleWeightConfig: at most 15 % of the requests go to staging.
pub const MAX_WEIGHT: f64 = 0.15;
/// What a candidate parameter holds when no canary runs.
pub const NONE: &str = "NONE";

/// How a continuous deployment policy routes requests to staging.
#[derive(Debug, Clone, PartialEq)]
pub enum Traffic {
    Header { name: String, value: String },
    Weight(f64),
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: String,
    pub enabled: bool,
    pub staging_dns_names: Vec<String>,
    pub traffic: Traffic,
}

/// What preflight finds of continuous deployment on the stack: its staging distributions and the
/// primary's policy.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub staging: Vec<(String, DistributionInfo)>,
    pub policy: Option<Policy>,
}

/// The staged stack, checked: the staging distribution, its policy, and the canary live now.
#[derive(Debug, Clone)]
pub struct Stage {
    pub staging_id: String,
    pub staging: DistributionInfo,
    pub policy: Policy,
    /// The version a canary runs now (the policy's parameter enabled and a candidate set): left by
    /// `promote: false`, or by a run that stopped.
    pub candidate: Option<String>,
}

/// The stack's staging distributions and the primary's policy.
pub async fn look_up(clients: &Clients, stack_id: &str, primary: &DistributionInfo) -> Result<Found> {
    let cf = &clients.cloudfront;
    let mut staging = Vec::new();
    for (_, id) in
        stack::resources_of_type(&clients.cloudformation, stack_id, crate::preflight::DISTRIBUTION_TYPE).await?
    {
        let info = distribution::get(cf, &id).await?;
        if info.staging {
            staging.push((id, info));
        }
    }
    let policy = match &primary.policy_id {
        Some(id) => Some(get_policy(clients, id).await?),
        None => None,
    };
    Ok(Found { staging, policy })
}

pub async fn get_policy(clients: &Clients, id: &str) -> Result<Policy> {
    let out = clients
        .cloudfront
        .get_continuous_deployment_policy()
        .id(id)
        .send()
        .await
        .map_err(aws(format!("GetContinuousDeploymentPolicy {id}")))?;
    let config = out.continuous_deployment_policy().and_then(|p| p.continuous_deployment_policy_config());
    let traffic = match config.and_then(|c| c.traffic_config()) {
        Some(t) => match (t.single_header_config(), t.single_weight_config()) {
            (Some(h), _) => Traffic::Header { name: h.header().to_owned(), value: h.value().to_owned() },
            (None, Some(w)) => Traffic::Weight(f64::from(w.weight())),
            _ => Traffic::Other(t.r#type().as_str().to_owned()),
        },
        None => Traffic::Other("none".to_owned()),
    };
    Ok(Policy {
        id: id.to_owned(),
        enabled: config.is_some_and(|c| c.enabled()),
        staging_dns_names: config
            .and_then(|c| c.staging_distribution_dns_names())
            .map(|n| n.items().to_vec())
            .unwrap_or_default(),
        traffic,
    })
}

/// The template declares every parameter a staged release sets, or the problem naming those it
/// lacks.
pub fn template_problem(summary: &TemplateInfo) -> Option<String> {
    let missing: Vec<&str> = PARAMETERS.iter().copied().filter(|p| !summary.declares(p)).collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the template does not declare {}, which a staged release sets (the staging distribution's version, the policy's Enabled and traffic)",
            missing.join(", ")
        )
    })
}

const TEMPLATE_FIX: &str = "Use a template like examples/staged/template.yaml: a staging distribution (`Staging: true`) whose association takes CandidateVersion, an AWS::CloudFront::ContinuousDeploymentPolicy from CanaryEnabled, CanaryMode, CanaryHeader, CanaryHeaderValue and CanaryWeight, and the primary's ContinuousDeploymentPolicyId; or release with `strategy: direct`.";

/// Whether a stack can be released in stages, and the canary it runs now. Every reason it cannot
/// is an input to fix before anything is written.
pub fn decide(
    stack_name: &str,
    summary: &TemplateInfo,
    stack: &StackInfo,
    primary: Option<&(String, DistributionInfo)>,
    found: Found,
) -> std::result::Result<Stage, Vec<Error>> {
    let mut problems = Vec::new();
    let precondition = |what: String, fix: &str| Error::precondition(what, fix);
    if let Some(p) = template_problem(summary) {
        problems.push(precondition(p, TEMPLATE_FIX));
    }
    let Some((primary_id, primary)) = primary else {
        problems.push(precondition(
            format!("stack {stack_name} has no primary distribution to stage a release behind"),
            TEMPLATE_FIX,
        ));
        return Err(problems);
    };
    if primary.http_version.contains('3') {
        problems.push(precondition(
            format!("distribution {primary_id} serves HTTP/3 ({}): CloudFront continuous deployment is not available with HTTP/3", primary.http_version),
            "Set the primary's HttpVersion to http2 (or http1.1) in the template, or release with `strategy: direct`.",
        ));
    }
    let staging = match found.staging.as_slice() {
        [one] => Some(one.clone()),
        [] => {
            problems.push(precondition(
                format!("stack {stack_name} has no staging distribution (an AWS::CloudFront::Distribution with `Staging: true`)"),
                TEMPLATE_FIX,
            ));
            None
        }
        many => {
            problems.push(precondition(
                format!(
                    "stack {stack_name} has {} staging distributions ({}): a staged release needs exactly one",
                    many.len(),
                    many.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ")
                ),
                TEMPLATE_FIX,
            ));
            None
        }
    };
    if let Some((id, info)) = &staging {
        if !info.aliases.is_empty() {
            problems.push(precondition(
                format!("staging distribution {id} has aliases ({}): a staging distribution serves viewers only through its primary, and CloudFront refuses aliases on it", info.aliases.join(", ")),
                "Remove the Aliases of the staging distribution in the template.",
            ));
        }
    }
    let policy = match (found.policy, &staging) {
        (None, _) => {
            problems.push(precondition(
                format!("distribution {primary_id} has no continuous deployment policy (ContinuousDeploymentPolicyId)"),
                TEMPLATE_FIX,
            ));
            None
        }
        (Some(p), Some((id, info))) if !p.staging_dns_names.contains(&info.domain) => {
            problems.push(precondition(
                format!(
                    "the continuous deployment policy {} of distribution {primary_id} routes to {}, not to the stack's staging distribution {id} ({})",
                    p.id,
                    p.staging_dns_names.join(", "),
                    info.domain
                ),
                "Set the policy's StagingDistributionDnsNames to `!GetAtt <StagingDistribution>.DomainName` in the template.",
            ));
            None
        }
        (Some(p), _) => Some(p),
    };
    let (Some((staging_id, staging)), Some(policy), true) = (staging, policy, problems.is_empty()) else {
        return Err(problems);
    };
    let candidate = stack
        .parameter(CANDIDATE)
        .filter(|c| *c != NONE && crate::function::version_of(c).is_some())
        .filter(|_| stack.parameter(ENABLED) == Some("true"))
        .map(str::to_owned);
    Ok(Stage { staging_id, staging, policy, candidate })
}

/// The bake: the staging distribution's `5xxErrorRate` (one-minute averages) from the minute the
/// canary started, polled until `bake` has passed. A minute above `max` fails it at once.
/// Minutes without data (no request reached staging) pass, with a warning at the end.
pub async fn bake(clients: &Clients, staging_id: &str, since: SystemTime, bake: Duration, max: f64) -> Result<String> {
    let started = std::time::Instant::now();
    let interval = (bake / 4).clamp(Duration::from_secs(1), Duration::from_secs(15));
    log::info(&format!(
        "baking for {}: watching 5xxErrorRate of staging distribution {staging_id} (limit {max} %)",
        humantime::format_duration(bake)
    ));
    loop {
        let left = bake.saturating_sub(started.elapsed());
        tokio::time::sleep(interval.min(left)).await;
        let points = error_rates(clients, staging_id, since).await?;
        if let Some((at, rate)) = points.iter().filter(|(_, r)| *r > max).max_by(|a, b| a.1.total_cmp(&b.1)) {
            return Err(Error::failed(
                format!("the staging distribution {staging_id}'s 5xxErrorRate was {rate} % in the minute from {at}, above `max-error-rate` ({max} %)"),
                "Look at the function's logs in the Regions near the failing edges (Lambda@Edge writes to /aws/lambda/us-east-1.<function> in each), fix the code and release again.",
            ));
        }
        if started.elapsed() >= bake {
            return Ok(match points.iter().map(|(_, r)| *r).reduce(f64::max) {
                Some(worst) => format!("5xxErrorRate at most {worst} % over {} minute(s)", points.len()),
                None => {
                    log::warn(&format!("no 5xxErrorRate data for staging distribution {staging_id} during the bake: no request reached it (or CloudWatch has not caught up); the bake passes on no data"));
                    "no 5xxErrorRate data (no requests reached staging)".to_owned()
                }
            });
        }
    }
}

/// The one-minute averages of the distribution's 5xxErrorRate from `since` (rounded down to its
/// minute, as CloudWatch rounds StartTime) to now: (minute, percent).
async fn error_rates(clients: &Clients, id: &str, since: SystemTime) -> Result<Vec<(String, f64)>> {
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let now = SystemTime::now();
    let out = clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/CloudFront")
        .metric_name("5xxErrorRate")
        .dimensions(dimension("DistributionId", id))
        .dimensions(dimension("Region", "Global"))
        .start_time(DateTime::from(since))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .period(60)
        .statistics(Statistic::Average)
        .send()
        .await
        .map_err(aws(format!("GetMetricStatistics 5xxErrorRate of {id}")))?;
    let mut points: Vec<(String, f64)> = out
        .datapoints()
        .iter()
        .filter_map(|d| {
            let at = d.timestamp().map(|t| t.to_string()).unwrap_or_default();
            d.average().map(|a| (at, a))
        })
        .collect();
    points.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(points)
}

/// Waits until both distributions are Deployed (the primary's policy and the staging
/// distribution's association take effect with their deployments).
pub async fn wait_both(
    clients: &Clients,
    poll: &Poll,
    primary: &str,
    staging: &str,
) -> Result<(DistributionInfo, DistributionInfo)> {
    tokio::try_join!(
        distribution::wait_deployed(&clients.cloudfront, poll, primary),
        distribution::wait_deployed(&clients.cloudfront, poll, staging),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::DistributionInfo;

    fn summary(params: &[&str]) -> TemplateInfo {
        TemplateInfo {
            parameters: params.iter().map(|p| (p.to_string(), Some(String::new()))).collect(),
            ..Default::default()
        }
    }

    fn all() -> TemplateInfo {
        let mut names = vec!["FirstLaunch", "LambdaVersion"];
        names.extend(PARAMETERS);
        summary(&names)
    }

    fn primary(http: &str, policy: bool) -> (String, DistributionInfo) {
        (
            "EPRIMARY".into(),
            DistributionInfo {
                domain: "d1.cloudfront.net".into(),
                http_version: http.into(),
                policy_id: policy.then(|| "p-1".to_owned()),
                ..Default::default()
            },
        )
    }

    fn staging(aliases: &[&str]) -> (String, DistributionInfo) {
        (
            "ESTAGING".into(),
            DistributionInfo {
                domain: "d2.cloudfront.net".into(),
                staging: true,
                aliases: aliases.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            },
        )
    }

    fn policy(dns: &str) -> Policy {
        Policy {
            id: "p-1".into(),
            enabled: false,
            staging_dns_names: vec![dns.into()],
            traffic: Traffic::Header { name: "aws-cf-cd-canary".into(), value: "1".into() },
        }
    }

    fn stack(params: &[(&str, &str)]) -> StackInfo {
        StackInfo {
            parameters: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }
    }

    const V2: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge:2";

    /// The problems `decide` finds, as text.
    fn refused(summary: &TemplateInfo, primary: Option<(String, DistributionInfo)>, found: Found) -> String {
        match decide("site", summary, &stack(&[]), primary.as_ref(), found) {
            Ok(_) => String::new(),
            Err(all) => all.iter().map(|e| format!("{e} [{}]", e.exit_code())).collect::<Vec<_>>().join("\n"),
        }
    }

    #[test]
    fn every_reason_a_stack_cannot_be_staged_is_an_input_problem() {
        let good = || Found { staging: vec![staging(&[])], policy: Some(policy("d2.cloudfront.net")) };
        // (case, the template, the primary, what preflight found, what the refusal says)
        type Case<'a> = (&'a str, TemplateInfo, Option<(String, DistributionInfo)>, Found, &'a str);
        let cases: Vec<Case> = vec![
            ("fit", all(), Some(primary("http2", true)), good(), ""),
            ("no parameters", summary(&["LambdaVersion"]), Some(primary("http2", true)), good(), "does not declare CandidateVersion, CanaryEnabled, CanaryMode, CanaryHeader, CanaryHeaderValue, CanaryWeight"),
            ("HTTP/3", all(), Some(primary("http2and3", true)), good(), "serves HTTP/3 (http2and3)"),
            ("no primary", all(), None, good(), "has no primary distribution"),
            ("no staging", all(), Some(primary("http2", true)), Found { staging: vec![], ..good() }, "has no staging distribution"),
            ("two staging", all(), Some(primary("http2", true)), Found { staging: vec![staging(&[]), staging(&[])], ..good() }, "has 2 staging distributions"),
            ("aliases", all(), Some(primary("http2", true)), Found { staging: vec![staging(&["beta.example.com"])], ..good() }, "has aliases (beta.example.com)"),
            ("no policy", all(), Some(primary("http2", false)), Found { policy: None, ..good() }, "has no continuous deployment policy"),
            ("other staging", all(), Some(primary("http2", true)), Found { policy: Some(policy("d9.cloudfront.net")), ..good() }, "routes to d9.cloudfront.net, not to the stack's staging distribution ESTAGING"),
        ];
        for (name, summary, primary, found, expected) in cases {
            let text = refused(&summary, primary, found);
            if expected.is_empty() {
                assert_eq!(text, "", "{name}");
            } else {
                assert!(text.contains(expected), "{name}: {text}");
                assert!(text.lines().all(|l| l.ends_with("[2]")), "{name}: every refusal is exit 2: {text}");
            }
        }
    }

    #[test]
    fn the_live_canary_is_the_candidate_of_an_enabled_policy() {
        let found = || Found { staging: vec![staging(&[])], policy: Some(policy("d2.cloudfront.net")) };
        let p = primary("http2", true);
        let cases = [
            (vec![(CANDIDATE, V2), (ENABLED, "true")], Some(V2)),
            (vec![(CANDIDATE, V2), (ENABLED, "false")], None),
            (vec![(CANDIDATE, NONE), (ENABLED, "true")], None),
            (vec![], None),
        ];
        for (params, expected) in cases {
            let stage = decide("site", &all(), &stack(&params), Some(&p), found()).unwrap();
            assert_eq!(stage.candidate.as_deref(), expected, "{params:?}");
        }
    }
}
