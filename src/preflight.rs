//! Preflight: the look-ups and checks made before anything is written. Every problem found is
//! collected, so that one run reports them all (exit 2, nothing changed).

use crate::artifact;
use crate::aws::Clients;
use crate::distribution::{self, DistributionInfo};
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::inputs::{Settings, TemplateSource};
use crate::log;
use crate::package::{self, Package};
use crate::poll::Poll;
use crate::stack::{self, StackInfo, Template, TemplateInfo};

pub const DISTRIBUTION_TYPE: &str = "AWS::CloudFront::Distribution";

/// Lambda@Edge's limit for functions serving viewer events, in older editions of the quotas page;
/// worth a warning, since a viewer function that large is slow at every request.
const VIEWER_WARN_BYTES: u64 = 1024 * 1024;

/// Problems found so far.
#[derive(Default)]
pub struct Preflight(Vec<Error>);

impl Preflight {
    /// Keeps a precondition failure for the report and goes on; any other error ends the run.
    pub fn take<T>(&mut self, r: Result<T>) -> Result<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_precondition() => {
                self.push(e);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub fn push(&mut self, e: Error) {
        match e {
            Error::Preflight(all) => self.0.extend(all),
            e => self.0.push(e),
        }
    }

    /// Called before the first write.
    pub fn finish(mut self) -> Result<()> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(self.0.remove(0)),
            _ => Err(Error::Preflight(self.0)),
        }
    }
}

/// What the run learned before writing anything.
pub struct Found {
    pub package: Option<Package>,
    pub stack: Option<StackInfo>,
    pub function: Option<FunctionInfo>,
    pub template: Template,
}

/// Packaging and the independent look-ups, in parallel.
pub async fn look_up(
    s: &Settings,
    c: &Clients,
    poll: &Poll,
    pf: &mut Preflight,
    stop: &package::Stop,
) -> Result<Found> {
    let source = s.source.clone();
    let stop = stop.clone();
    let packaging = tokio::task::spawn_blocking(move || source.map(|src| package::package(&src, &stop)).transpose());
    let owner = s.expected_bucket_owner.as_deref();
    let (package, stack, function, bucket, template) = tokio::join!(
        async {
            packaging.await.map_err(|e| {
                Error::failed(format!("packaging stopped: {e}"), "Run again; report a bug if it repeats.")
            })?
        },
        stack::describe(&c.cloudformation, &s.stack_name),
        function::get(&c.lambda, &s.function_name),
        async {
            match s.rollback_to {
                Some(_) => Ok(()),
                None => artifact::check_bucket(&c.s3, &s.artifact_bucket, owner).await,
            }
        },
        load_template(s),
    );
    let package = pf.take(package)?.flatten();
    pf.take(bucket)?;
    let template = pf.take(template)?.unwrap_or(Template::Previous);
    let function = function?;
    let mut stack = stack?;
    if let Some(st) = &stack {
        if stack::is_in_progress(&st.status) {
            log::warn(&format!(
                "stack {} is in {}: another operation (perhaps another release) is running; waiting for it to finish first",
                s.stack_name, st.status
            ));
            stack = stack::settle(&c.cloudformation, poll, &s.stack_name).await?;
        }
    }
    if let Some(f) = &function {
        for problem in function::check_edge_rules(&c.lambda, &c.iam, f, &s.function_name).await? {
            pf.push(problem);
        }
    }
    Ok(Found { package, stack, function, template })
}

/// The template as given: inline when small, else to be uploaded to the artifact bucket once preflight
/// has passed (CloudFormation takes at most 51,200 bytes inline), or the stack's previous one.
async fn load_template(s: &Settings) -> Result<Template> {
    match &s.template {
        None => Ok(Template::Previous),
        Some(TemplateSource::Url(u)) => Ok(Template::Url(u.clone())),
        Some(TemplateSource::File(path)) => {
            let body =
                tokio::fs::read(path).await.map_err(Error::io(format!("reading the template {}", path.display())))?;
            let text = String::from_utf8(body).map_err(|_| {
                Error::precondition(
                    format!("the template {} is not UTF-8 text", path.display()),
                    "Save the template as UTF-8 YAML or JSON.",
                )
            })?;
            if text.len() <= stack::MAX_INLINE_TEMPLATE {
                return Ok(Template::Body(text));
            }
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("template");
            Ok(Template::Large { body: text, key: format!("{}{}.{ext}", s.artifact_prefix, s.stack_name) })
        }
    }
}

/// After preflight: a large template goes to the artifact bucket, and CloudFormation reads it there.
pub async fn upload_large_template(s: &Settings, c: &Clients, template: &Template) -> Result<Template> {
    let Template::Large { body, key } = template else { return Ok(template.clone()) };
    log::info(&format!(
        "the template is {} bytes, over 51,200: uploading it to s3://{}/{key}",
        body.len(),
        s.artifact_bucket
    ));
    let owner = s.expected_bucket_owner.as_deref();
    let url =
        artifact::upload_template(&c.s3, c.custom_endpoint.as_deref(), &s.artifact_bucket, owner, key, body.clone())
            .await?;
    Ok(Template::Url(url))
}

/// The template must declare the first-launch and version parameters the tool sets.
pub fn require_parameters(s: &Settings, info: &TemplateInfo) -> Result<()> {
    let missing: Vec<&str> = [s.first_launch_parameter.as_str(), s.version_parameter.as_str()]
        .into_iter()
        .filter(|p| !info.declares(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::precondition(
        format!("the template declares no parameter {}", missing.join(" or ")),
        "Declare the first-launch and version parameters in the template (see examples/template.yaml), or name yours with `first-launch-parameter` and `version-parameter`.",
    ))
}

/// The template's capabilities must be among `capabilities` (CAPABILITY_NAMED_IAM covers
/// CAPABILITY_IAM), or CloudFormation refuses the operation after the upload and the publish.
pub fn require_capabilities(s: &Settings, info: &TemplateInfo) -> Result<()> {
    let given =
        |c: &str| s.capabilities.iter().any(|g| g == c || (c == "CAPABILITY_IAM" && g == "CAPABILITY_NAMED_IAM"));
    let missing: Vec<&str> = info.capabilities.iter().map(String::as_str).filter(|c| !given(c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::precondition(
        format!("the template needs {}, which `capabilities` does not give", missing.join(" and ")),
        format!("Add {} to `capabilities` (comma-separated).", missing.join(", ")),
    ))
}

pub fn no_distribution(s: &Settings) -> Error {
    Error::precondition(
        format!("stack {} has no AWS::CloudFront::Distribution, and `distribution-id` is not set", s.stack_name),
        "Set `distribution-id` to the distribution that runs the function, or `wait: false` to skip waiting and verifying.",
    )
}

/// The distribution to wait for: the input, or the stack's only distribution.
pub async fn find_distribution(s: &Settings, c: &Clients, stack_id: &str) -> Result<Option<String>> {
    if let Some(id) = &s.distribution_id {
        return Ok(Some(id.clone()));
    }
    let found = stack::resources_of_type(&c.cloudformation, stack_id, DISTRIBUTION_TYPE).await?;
    match found.as_slice() {
        [] if s.wait => Err(no_distribution(s)),
        [] => Ok(None),
        [(_, id)] => Ok(Some(id.clone())),
        many => Err(Error::precondition(
            format!("stack {} has {} distributions", s.stack_name, many.len()),
            "Set `distribution-id` to the one that runs the function.",
        )),
    }
}

/// The version of the function that the distribution runs now (or, without a distribution, the
/// one the stack's version parameter names).
pub fn live_version(s: &Settings, st: &StackInfo, d: Option<&DistributionInfo>, function_arn: &str) -> Option<String> {
    let from_distribution = d.and_then(|d| {
        let mut arns: Vec<String> =
            distribution::versions_of(d, function_arn).into_iter().map(|a| a.arn.clone()).collect();
        arns.dedup();
        (arns.len() == 1).then(|| arns.remove(0))
    });
    from_distribution
        .or_else(|| st.parameter(&s.version_parameter).filter(|v| function::version_of(v).is_some()).map(str::to_owned))
}

/// Warns when a viewer-event function's package is large.
pub fn warn_viewer_size(d: &DistributionInfo, function_arn: &str, package: &Package) {
    let viewer = distribution::versions_of(d, function_arn).iter().any(|a| a.event_type.starts_with("viewer"));
    if viewer && package.size > VIEWER_WARN_BYTES {
        log::warn(&format!(
            "the package is {} bytes and the function serves a viewer event: viewer functions were limited to 1 MB, and every byte adds to cold starts at each request",
            package.size
        ));
    }
}
