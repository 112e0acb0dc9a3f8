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

/// What decides whether CloudFront answers a path from its cache, per cache behavior.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behavior {
    /// None for the default cache behavior.
    pub path_pattern: Option<String>,
    pub cache_policy_id: Option<String>,
    /// Legacy `ForwardedValues.QueryString`, for a behavior without a cache policy.
    pub forwards_query_strings: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DistributionInfo {
    pub domain: String,
    pub status: String,
    pub associations: Vec<Association>,
    /// The cache behaviors in CloudFront's order of precedence: path patterns first, the default last.
    pub behaviors: Vec<Behavior>,
    /// When its configuration last changed: an invalidation made since then has cleared what the
    /// current configuration's versions may have left cached.
    pub last_modified: Option<aws_smithy_types::DateTime>,
    /// A staging distribution of continuous deployment: viewers reach it only through its primary.
    pub staging: bool,
    /// `http1.1`, `http2`, `http3` or `http2and3`: continuous deployment refuses HTTP/3.
    pub http_version: String,
    pub aliases: Vec<String>,
    /// A primary's continuous deployment policy.
    pub policy_id: Option<String>,
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
    let config = d.and_then(|d| d.distribution_config());
    let mut associations = Vec::new();
    let mut behaviors = Vec::new();
    if let Some(config) = config {
        for b in config.cache_behaviors().map(|c| c.items()).unwrap_or_default() {
            collect(b.path_pattern(), b.lambda_function_associations(), &mut associations);
            #[allow(deprecated)] // Legacy cache settings: distributions made before cache policies still use them.
            let forwarded = b.forwarded_values();
            behaviors.push(Behavior {
                path_pattern: Some(b.path_pattern().to_owned()),
                cache_policy_id: b.cache_policy_id().map(str::to_owned),
                forwards_query_strings: forwards_query_strings(forwarded),
            });
        }
        if let Some(b) = config.default_cache_behavior() {
            collect("default", b.lambda_function_associations(), &mut associations);
            #[allow(deprecated)] // Legacy cache settings: distributions made before cache policies still use them.
            let forwarded = b.forwarded_values();
            behaviors.push(Behavior {
                path_pattern: None,
                cache_policy_id: b.cache_policy_id().map(str::to_owned),
                forwards_query_strings: forwards_query_strings(forwarded),
            });
        }
    }
    Ok(DistributionInfo {
        domain: d.map(|d| d.domain_name().to_owned()).unwrap_or_default(),
        status: d.map(|d| d.status().to_owned()).unwrap_or_default(),
        associations,
        behaviors,
        last_modified: d.map(|d| *d.last_modified_time()),
        staging: config.and_then(|c| c.staging()).unwrap_or(false),
        http_version: config.and_then(|c| c.http_version()).map(|v| v.as_str().to_owned()).unwrap_or_default(),
        aliases: config.and_then(|c| c.aliases()).map(|a| a.items().to_vec()).unwrap_or_default(),
        policy_id: config
            .and_then(|c| c.continuous_deployment_policy_id())
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    })
}

/// Every query string is in the legacy cache key, or only the listed ones: a parameter of our own
/// reaches the origin side only in the first case.
fn forwards_query_strings(f: Option<&aws_sdk_cloudfront::types::ForwardedValues>) -> bool {
    f.is_some_and(|f| f.query_string() && f.query_string_cache_keys().is_none_or(|k| k.quantity() == 0))
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
    // A newer version of the function than this run's: not the template's fault, another release's.
    let number = |arn: &str| crate::function::version_of(arn).and_then(|v| v.parse::<u64>().ok());
    let newer = ours.iter().find(|a| number(&a.arn) > number(version_arn)).map(|a| a.arn.clone());
    if let Some(newer) = newer {
        return Err(Error::failed(
            format!("distribution {id} runs {newer}, newer than this run's {version_arn}: another release changed it meanwhile"),
            "Let the other release finish, then check which version should run; serialise releases of this stack with `concurrency:` in the workflow.",
        ));
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

/// What the distribution runs, as this tool's invalidations name it in their `CallerReference`, so
/// that a later run can tell whether the cache was cleared for the code it runs now: `function:N`
/// for one function, a hash of the version ARNs for several (a reference holds at most 128
/// characters). Each invalidation still gets its own reference: CloudFront answers a reference it
/// has seen with the earlier invalidation (or refuses it for other paths) and invalidates nothing new.
pub fn release_tag(version_arns: &[String]) -> String {
    match version_arns {
        [one] => one.rsplit(':').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(":"),
        many => {
            use sha2::Digest;
            let mut sorted = many.to_vec();
            sorted.sort();
            let digest = sha2::Sha256::digest(sorted.join("\n").as_bytes());
            let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
            format!("{}-functions-{hex}", many.len())
        }
    }
}

fn reference_prefix(tag: &str) -> String {
    format!("lambda-edge-deploy/{tag}/")
}

/// Whether `paths` were already invalidated for what the distribution runs now: the newest
/// invalidation of exactly these paths was made for `tag` ([`release_tag`], by this tool), or after the
/// distribution last changed (`since`, by anyone). A release interrupted after invalidating, or
/// run again with nothing to change, then waits for that invalidation instead of paying for another.
/// Returns its id, waiting for it to complete if it has not. CloudFront lists invalidations newest
/// first; only the first page (100) is read, and beyond it a new invalidation is made.
pub async fn already_invalidated(
    cf: &Client,
    poll: &Poll,
    id: &str,
    paths: &[String],
    tag: &str,
    since: Option<aws_smithy_types::DateTime>,
) -> Result<Option<String>> {
    let mut wanted = paths.to_vec();
    wanted.sort();
    let page =
        cf.list_invalidations().distribution_id(id).send().await.map_err(aws(format!("ListInvalidations {id}")))?;
    let mut items = page.invalidation_list().map(|l| l.items().to_vec()).unwrap_or_default();
    items.sort_by_key(|i| std::cmp::Reverse(i.create_time().secs()));
    let prefix = reference_prefix(tag);
    for item in &items {
        let inv = cf
            .get_invalidation()
            .distribution_id(id)
            .id(item.id())
            .send()
            .await
            .map_err(aws(format!("GetInvalidation {}", item.id())))?;
        let batch = inv.invalidation().and_then(|i| i.invalidation_batch());
        let mut made: Vec<String> = batch.and_then(|b| b.paths()).map(|p| p.items().to_vec()).unwrap_or_default();
        made.sort();
        if made != wanted {
            continue;
        }
        let for_this_version = batch.is_some_and(|b| b.caller_reference().starts_with(&prefix));
        let after_change = since.is_some_and(|since| item.create_time().secs() >= since.secs());
        if !(for_this_version || after_change) {
            return Ok(None);
        }
        wait_invalidated(cf, poll, id, item.id()).await?;
        return Ok(Some(item.id().to_owned()));
    }
    Ok(None)
}

/// Invalidates `paths` for `tag` (what the distribution runs, [`release_tag`]) and waits for the
/// invalidation to complete; returns its id.
pub async fn invalidate(cf: &Client, poll: &Poll, id: &str, paths: &[String], tag: &str) -> Result<String> {
    let caller_reference = format!("{}{}", reference_prefix(tag), uuid::Uuid::new_v4().simple());
    let request = |e: aws_sdk_cloudfront::error::BuildError| {
        Error::failed(format!("the invalidation request for {id} is malformed: {e}"), "Report this bug with the log.")
    };
    let paths =
        Paths::builder().quantity(paths.len() as i32).set_items(Some(paths.to_vec())).build().map_err(request)?;
    let batch =
        InvalidationBatch::builder().paths(paths).caller_reference(caller_reference).build().map_err(request)?;
    let out = cf
        .create_invalidation()
        .distribution_id(id)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(aws(format!("CreateInvalidation on {id}")))?;
    let inv = out.invalidation().map(|i| i.id().to_owned()).unwrap_or_default();
    wait_invalidated(cf, poll, id, &inv).await?;
    Ok(inv)
}

async fn wait_invalidated(cf: &Client, poll: &Poll, id: &str, inv: &str) -> Result<()> {
    poll.until(&format!("invalidation {inv} on {id} to complete"), || async {
        let out = cf
            .get_invalidation()
            .distribution_id(id)
            .id(inv)
            .send()
            .await
            .map_err(aws(format!("GetInvalidation {inv}")))?;
        let status = out.invalidation().map(|i| i.status().to_owned()).unwrap_or_default();
        Ok(if status == "Completed" { Step::Done(()) } else { Step::Pending(status) })
    })
    .await
}

/// Whether a request for a path can be answered from CloudFront's cache without reaching the origin
/// side, whatever its query string: then a new origin-request version shows there only after the
/// path is invalidated (a cache-busting query parameter does nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caching {
    /// Nothing is cached (Managed-CachingDisabled).
    Off,
    /// The query string is part of the cache key: a new query reaches the origin side.
    QueryInKey,
    /// Cached by path alone, under the named policy.
    PathOnly(String),
}

/// CloudFront's managed cache policies ("Use managed cache policies", CloudFront Developer Guide):
/// id, name, and whether query strings are in the cache key. CachingDisabled caches nothing.
const MANAGED_POLICIES: &[(&str, &str, bool)] = &[
    ("658327ea-f89d-4fab-a63d-7e88639e58f6", "Managed-CachingOptimized", false),
    ("b2884449-e4de-46a7-ac36-70bc7f1ddd6d", "Managed-CachingOptimizedForUncompressedObjects", false),
    ("4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "Managed-CachingDisabled", false),
    ("08627262-05a9-4f76-9ded-b50ca2e3a84f", "Managed-Elemental-MediaPackage", true),
    ("2e54312d-136d-493c-8eb9-b001f22f67d2", "Managed-Amplify", true),
    ("83da9c7e-98b4-4e11-a168-04f0df8e2c65", "Managed-UseOriginCacheControlHeaders", false),
    ("4cc15a8a-d715-48a4-82b8-cc0b614638fe", "Managed-UseOriginCacheControlHeaders-QueryStrings", true),
];
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

/// The cache behavior that serves `path`: the first whose pattern matches, else the default.
pub fn behavior_for<'a>(info: &'a DistributionInfo, path: &str) -> Option<&'a Behavior> {
    info.behaviors.iter().find(|b| b.path_pattern.as_deref().is_none_or(|p| pattern_matches(p, path)))
}

/// CloudFront's path patterns: `*` any run of characters, `?` one, case-sensitive, anchored at both
/// ends; the leading `/` is optional in the pattern.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    let path = path.strip_prefix('/').unwrap_or(path);
    go(pattern.as_bytes(), path.as_bytes())
}

/// How the behavior caches. A custom cache policy is read with GetCachePolicy; when that is not
/// allowed or fails, the query string is assumed outside the key, the case that needs an invalidation.
pub async fn caching(cf: &Client, behavior: &Behavior) -> Caching {
    let Some(id) = behavior.cache_policy_id.as_deref().filter(|i| !i.is_empty()) else {
        return if behavior.forwards_query_strings {
            Caching::QueryInKey
        } else {
            Caching::PathOnly("legacy cache settings without query strings".into())
        };
    };
    if id == CACHING_DISABLED {
        return Caching::Off;
    }
    if let Some((_, name, query)) = MANAGED_POLICIES.iter().find(|(i, _, _)| *i == id) {
        return if *query { Caching::QueryInKey } else { Caching::PathOnly((*name).to_owned()) };
    }
    match cf.get_cache_policy().id(id).send().await {
        Ok(out) => {
            let config = out.cache_policy().and_then(|p| p.cache_policy_config());
            let name = config.map(|c| c.name().to_owned()).unwrap_or_else(|| id.to_owned());
            if config.is_some_and(|c| c.max_ttl() == Some(0)) {
                return Caching::Off;
            }
            let query = config
                .and_then(|c| c.parameters_in_cache_key_and_forwarded_to_origin())
                .and_then(|p| p.query_strings_config())
                .map(|q| q.query_string_behavior().as_str().to_owned());
            // `whitelist`/`allExcept` key only some names; a query parameter of our own may not be one.
            if query.as_deref() == Some("all") {
                Caching::QueryInKey
            } else {
                Caching::PathOnly(name)
            }
        }
        Err(e) => {
            crate::log::warn(&format!(
                "could not read cache policy {id} (cloudfront:GetCachePolicy): {}; assuming query strings are not in its cache key",
                aws(format!("GetCachePolicy {id}"))(e)
            ));
            Caching::PathOnly(id.to_owned())
        }
    }
}

/// Whether invalidating `paths` clears `path` (an exact path, or a prefix ending in `*`).
pub fn covers(paths: &[String], path: &str) -> bool {
    paths.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => p == path,
    })
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
    fn a_release_tag_names_the_version_or_the_set_of_versions_whatever_their_order() {
        let v = |s: &str| s.to_owned();
        assert_eq!(release_tag(&[format!("{F}:7")]), "edge:7");
        let a = release_tag(&[v("arn:x:function:viewer:2"), v("arn:x:function:origin:5")]);
        let b = release_tag(&[v("arn:x:function:origin:5"), v("arn:x:function:viewer:2")]);
        assert_eq!(a, b);
        assert!(a.starts_with("2-functions-"), "{a}");
        assert_ne!(a, release_tag(&[v("arn:x:function:viewer:3"), v("arn:x:function:origin:5")]));
    }

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
        let raced = verify("E1", &info(&[&format!("{F}:4")]), F, &format!("{F}:3")).unwrap_err();
        assert!(raced.to_string().contains("another release changed it meanwhile"), "{raced}");
        assert!(!raced.help().contains("template"), "{}", raced.help());
    }

    #[test]
    fn path_patterns_match_as_cloudfront_matches_them() {
        for (pattern, path, want) in [
            ("*.js", "/app.js", true),
            ("/images/*", "/images/a/b.png", true),
            ("images/*", "/images/a.png", true),
            ("/images/*", "/img/a.png", false),
            ("/a?c", "/abc", true),
            ("/a?c", "/ac", false),
            ("/API/*", "/api/x", false),
            ("/index.html", "/index.html", true),
        ] {
            assert_eq!(pattern_matches(pattern, path), want, "{pattern} {path}");
        }
        let info = DistributionInfo {
            behaviors: vec![
                Behavior {
                    path_pattern: Some("/api/*".into()),
                    cache_policy_id: Some(CACHING_DISABLED.into()),
                    forwards_query_strings: false,
                },
                Behavior { path_pattern: None, cache_policy_id: None, forwards_query_strings: true },
            ],
            ..Default::default()
        };
        assert_eq!(behavior_for(&info, "/api/v1").unwrap().path_pattern.as_deref(), Some("/api/*"));
        assert_eq!(behavior_for(&info, "/index.html").unwrap().path_pattern, None);
    }

    #[test]
    fn invalidation_paths_cover_exact_paths_and_prefixes() {
        let paths = vec!["/*".to_string()];
        assert!(covers(&paths, "/index.html"));
        let paths = vec!["/index.html".to_string(), "/img/*".to_string()];
        assert!(covers(&paths, "/index.html") && covers(&paths, "/img/a.png"));
        assert!(!covers(&paths, "/about.html"));
    }

    #[tokio::test]
    async fn managed_and_legacy_caching_need_no_call() {
        let config = aws_sdk_cloudfront::Config::builder()
            .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
            .build();
        // A call would fail: no credentials, no endpoint.
        let cf = Client::from_conf(config);
        let behavior = |id: Option<&str>, query| Behavior {
            path_pattern: None,
            cache_policy_id: id.map(str::to_owned),
            forwards_query_strings: query,
        };
        assert_eq!(caching(&cf, &behavior(Some(CACHING_DISABLED), false)).await, Caching::Off);
        assert_eq!(
            caching(&cf, &behavior(Some("658327ea-f89d-4fab-a63d-7e88639e58f6"), false)).await,
            Caching::PathOnly("Managed-CachingOptimized".into())
        );
        assert_eq!(
            caching(&cf, &behavior(Some("4cc15a8a-d715-48a4-82b8-cc0b614638fe"), false)).await,
            Caching::QueryInKey
        );
        assert_eq!(caching(&cf, &behavior(None, true)).await, Caching::QueryInKey);
        assert!(matches!(caching(&cf, &behavior(None, false)).await, Caching::PathOnly(_)));
    }

    mod mocked {
        use super::super::*;
        use aws_sdk_cloudfront::operation::get_cache_policy::GetCachePolicyOutput;
        use aws_sdk_cloudfront::types::{
            CachePolicy, CachePolicyConfig, CachePolicyCookiesConfig, CachePolicyHeadersConfig,
            CachePolicyQueryStringBehavior, CachePolicyQueryStringsConfig, ParametersInCacheKeyAndForwardedToOrigin,
        };
        use aws_smithy_mocks::{mock, mock_client};

        fn policy(query: CachePolicyQueryStringBehavior) -> GetCachePolicyOutput {
            let params = ParametersInCacheKeyAndForwardedToOrigin::builder()
                .enable_accept_encoding_gzip(true)
                .headers_config(CachePolicyHeadersConfig::builder().header_behavior("none".into()).build().unwrap())
                .cookies_config(CachePolicyCookiesConfig::builder().cookie_behavior("none".into()).build().unwrap())
                .query_strings_config(
                    CachePolicyQueryStringsConfig::builder().query_string_behavior(query).build().unwrap(),
                )
                .build()
                .unwrap();
            let config = CachePolicyConfig::builder()
                .name("site-pages")
                .min_ttl(0)
                .max_ttl(31536000)
                .parameters_in_cache_key_and_forwarded_to_origin(params)
                .build()
                .unwrap();
            GetCachePolicyOutput::builder()
                .cache_policy(
                    CachePolicy::builder()
                        .id("custom")
                        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                        .cache_policy_config(config)
                        .build()
                        .unwrap(),
                )
                .build()
        }

        #[tokio::test]
        async fn a_custom_policy_is_read_and_a_refused_read_assumes_the_worst() {
            let custom =
                Behavior { path_pattern: None, cache_policy_id: Some("custom".into()), forwards_query_strings: false };
            let all = mock!(Client::get_cache_policy).then_output(|| policy(CachePolicyQueryStringBehavior::All));
            assert_eq!(caching(&mock_client!(aws_sdk_cloudfront, [&all]), &custom).await, Caching::QueryInKey);
            let some =
                mock!(Client::get_cache_policy).then_output(|| policy(CachePolicyQueryStringBehavior::Whitelist));
            assert_eq!(
                caching(&mock_client!(aws_sdk_cloudfront, [&some]), &custom).await,
                Caching::PathOnly("site-pages".into())
            );
            let denied = mock!(Client::get_cache_policy).then_http_response(|| {
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
                    aws_smithy_types::body::SdkBody::from(
                        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>",
                    ),
                )
            });
            assert_eq!(
                caching(&mock_client!(aws_sdk_cloudfront, [&denied]), &custom).await,
                Caching::PathOnly("custom".into())
            );
        }
    }

    #[test]
    fn versions_of_does_not_match_a_longer_function_name() {
        let i = info(&[&format!("{F}-two:1"), &format!("{F}:4")]);
        assert_eq!(versions_of(&i, F).len(), 1);
    }
}
