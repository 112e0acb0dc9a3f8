//! Distribution: wait until CloudFront has deployed, check that it runs the new version, invalidate.

use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_cloudfront::Client;

use crate::error::{aws, Error, Result};
use crate::poll::{Poll, Step};

/// One Lambda association in one cache behavior.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// `default` for the default cache behavior, else its path pattern.
    pub behavior: String,
    pub event_type: String,
    pub arn: String,
}

#[derive(Debug, Clone, Default)]
pub struct DistributionInfo {
    pub domain: String,
    pub status: String,
    pub associations: Vec<Association>,
}

pub async fn get(cf: &Client, id: &str) -> Result<DistributionInfo> {
    let out = cf.get_distribution().id(id).send().await.map_err(|e| {
        if e.as_service_error().is_some_and(|s| s.is_no_such_distribution()) {
            Error::precondition(
                format!("CloudFront distribution {id} does not exist"),
                "Fix `distribution-id`, or leave it empty to use the stack's AWS::CloudFront::Distribution.",
            )
        } else {
            aws(format!("GetDistribution {id}"))(e)
        }
    })?;
    let d = out.distribution();
    let mut associations = Vec::new();
    if let Some(config) = d.and_then(|d| d.distribution_config()) {
        if let Some(b) = config.default_cache_behavior() {
            collect("default", b.lambda_function_associations(), &mut associations);
        }
        for b in config.cache_behaviors().map(|c| c.items()).unwrap_or_default() {
            collect(b.path_pattern(), b.lambda_function_associations(), &mut associations);
        }
    }
    Ok(DistributionInfo {
        domain: d.map(|d| d.domain_name().to_owned()).unwrap_or_default(),
        status: d.map(|d| d.status().to_owned()).unwrap_or_default(),
        associations,
    })
}

fn collect(
    behavior: &str,
    list: Option<&aws_sdk_cloudfront::types::LambdaFunctionAssociations>,
    out: &mut Vec<Association>,
) {
    for a in list.map(|l| l.items()).unwrap_or_default() {
        out.push(Association {
            behavior: behavior.to_owned(),
            event_type: a.event_type().as_str().to_owned(),
            arn: a.lambda_function_arn().to_owned(),
        });
    }
}

/// The versions of `function_arn` that the distribution associates.
pub fn versions_of<'a>(info: &'a DistributionInfo, function_arn: &str) -> Vec<&'a Association> {
    let prefix = format!("{function_arn}:");
    info.associations.iter().filter(|a| a.arn.starts_with(&prefix)).collect()
}

/// Waits until the distribution reports Deployed.
pub async fn wait_deployed(cf: &Client, poll: &Poll, id: &str) -> Result<DistributionInfo> {
    poll.until(&format!("CloudFront distribution {id} to be Deployed"), || async {
        let info = get(cf, id).await?;
        Ok(if info.status == "Deployed" { Step::Done(info) } else { Step::Pending(info.status) })
    })
    .await
}

/// Fails unless the distribution associates `version_arn`, and no other version of the function.
pub fn verify(id: &str, info: &DistributionInfo, function_arn: &str, version_arn: &str) -> Result<()> {
    let ours = versions_of(info, function_arn);
    if !ours.is_empty() && ours.iter().all(|a| a.arn == version_arn) {
        return Ok(());
    }
    let seen = if info.associations.is_empty() {
        "no Lambda association at all".to_owned()
    } else {
        info.associations
            .iter()
            .map(|a| format!("{} {} → {}", a.behavior, a.event_type, a.arn))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Err(Error::failed(
        format!("distribution {id} does not run {version_arn}: it has {seen}"),
        "Check that the template's cache behavior takes LambdaFunctionARN from the version parameter (`!If [FirstLaunch, !Ref <Version>, !Ref LambdaVersion]`), and that `version-parameter` names it.",
    ))
}

/// Invalidates `paths` and waits for the invalidation to complete; returns its id.
pub async fn invalidate(
    cf: &Client,
    poll: &Poll,
    id: &str,
    paths: &[String],
    caller_reference: &str,
) -> Result<String> {
    let batch = InvalidationBatch::builder()
        .paths(
            Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.to_vec()))
                .build()
                .expect("quantity is set"),
        )
        .caller_reference(caller_reference)
        .build()
        .expect("paths and caller reference are set");
    let out = cf
        .create_invalidation()
        .distribution_id(id)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(aws(format!("CreateInvalidation on {id}")))?;
    let inv = out.invalidation().map(|i| i.id().to_owned()).unwrap_or_default();
    poll.until(&format!("invalidation {inv} on {id} to complete"), || async {
        let out = cf
            .get_invalidation()
            .distribution_id(id)
            .id(&inv)
            .send()
            .await
            .map_err(aws(format!("GetInvalidation {inv}")))?;
        let status = out.invalidation().map(|i| i.status().to_owned()).unwrap_or_default();
        // CloudFront says "Completed"; emulators have been seen to say "COMPLETED".
        Ok(if status.eq_ignore_ascii_case("Completed") { Step::Done(()) } else { Step::Pending(status) })
    })
    .await?;
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(arns: &[&str]) -> DistributionInfo {
        DistributionInfo {
            associations: arns
                .iter()
                .map(|a| Association {
                    behavior: "default".into(),
                    event_type: "origin-request".into(),
                    arn: a.to_string(),
                })
                .collect(),
            ..Default::default()
        }
    }

    const F: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

    #[test]
    fn verify_wants_exactly_the_new_version() {
        assert!(verify("E1", &info(&[&format!("{F}:3")]), F, &format!("{F}:3")).is_ok());
        let e = verify("E1", &info(&[&format!("{F}:2")]), F, &format!("{F}:3")).unwrap_err();
        assert!(e.to_string().contains(":2"), "{e}");
        assert!(verify("E1", &info(&[]), F, &format!("{F}:3"))
            .unwrap_err()
            .to_string()
            .contains("no Lambda association"));
        // Another function's association is no concern; a second, stale version of ours is.
        assert!(verify(
            "E1",
            &info(&[&format!("{F}:3"), "arn:aws:lambda:us-east-1:1:function:other:1"]),
            F,
            &format!("{F}:3")
        )
        .is_ok());
        assert!(verify("E1", &info(&[&format!("{F}:3"), &format!("{F}:2")]), F, &format!("{F}:3")).is_err());
    }

    #[test]
    fn versions_of_does_not_match_a_longer_function_name() {
        let i = info(&[&format!("{F}-two:1"), &format!("{F}:4")]);
        assert_eq!(versions_of(&i, F).len(), 1);
    }
}
