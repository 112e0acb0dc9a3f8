//! Preflight: everything a run needs to know, read before anything is written. Packaging and the
//! independent look-ups run in parallel; a problem that would stop the run (a missing bucket, a
//! function Lambda@Edge cannot run) is kept with the others, so that one run reports them all. The
//! plan (`plan.rs`) then decides from what was found, with no AWS call of its own.

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::distribution::{self, DistributionInfo};
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::log;
use crate::package::{self, Package};
use crate::poll::Poll;
use crate::settings::{EdgeFunction, Mode, Settings, TemplateSource};
use crate::stack::{self, StackInfo};
use crate::template::{self, Template, TemplateInfo};
use futures_util::future::join_all;

pub const DISTRIBUTION_TYPE: &str = "AWS::CloudFront::Distribution";
pub const VERSION_TYPE: &str = "AWS::Lambda::Version";

/// What the run learned before writing anything.
#[derive(Default)]
pub struct Found {
    /// The stack, once no operation is in progress on it.
    pub stack: Option<StackInfo>,
    /// The template as given, or the stack's own.
    pub template: Template,
    /// What that template declares; None when it could not be read (a problem says why) or is not
    /// needed (a stack that cannot be updated).
    pub summary: Option<TemplateInfo>,
    /// The distribution to wait for: `distribution-id`, or the stack's own.
    pub distribution: Option<(String, DistributionInfo)>,
    /// What the release changes besides the versions: the template, parameters and tags given that
    /// differ from the stack's (read for a release into an existing stack).
    pub other_changes: Vec<String>,
    /// While the stack's first-launch parameter is still "true": the versions its first launch
    /// published (its `AWS::Lambda::Version` resources), each of which the first update must set.
    pub launched_versions: Vec<String>,
    /// Each function of the settings, in their order.
    pub functions: Vec<FunctionFound>,
    /// Problems that stop the run before any write, found while looking.
    pub problems: Vec<Error>,
    /// A staged release's (`strategy: staged`, `mode: promote`/`abort`): continuous deployment on
    /// the stack.
    pub staged: Option<crate::canary::Found>,
}

/// What the run learned of one function.
#[derive(Debug, Default)]
pub struct FunctionFound {
    /// The packaged code (release mode).
    pub package: Option<Package>,
    /// The function's `$LATEST`.
    pub function: Option<FunctionInfo>,
    /// Every published version of the function, with its code hash and state.
    pub versions: Vec<FunctionInfo>,
    /// An object version under the function's artifact key that holds exactly the packaged code.
    pub object: Option<Artifact>,
    /// The deployer's uploaded object version.
    pub upload: Option<Artifact>,
}

impl Found {
    /// Keeps a precondition failure for the report and goes on; any other error ends the run.
    fn take<T>(&mut self, r: Result<T>) -> Result<Option<T>> {
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
            Error::Preflight(all) => self.problems.extend(all),
            e => self.problems.push(e),
        }
    }
}

/// Packaging and the look-ups, in two rounds: what needs nothing (the packages, the stack, the
/// functions, the bucket, the template), then what needs the first round's answers. Every function's
/// look-ups run side by side.
pub async fn look_up(
    settings: &Settings,
    clients: &Clients,
    poll: &Poll,
    stop: &package::Stop,
    upload: Option<Artifact>,
) -> Result<Found> {
    let packaging = settings.functions.iter().map(|f| {
        let (source, stop, exclude) = (f.source.clone(), stop.clone(), settings.exclude.clone());
        async move {
            let packaged = tokio::task::spawn_blocking(move || {
                source.map(|src| package::package_excluding(&src, &exclude, &stop)).transpose()
            });
            packaged.await.map_err(|e| {
                Error::failed(format!("packaging stopped: {e}"), "Run again; report a bug if it repeats.")
            })?
        }
    });
    let owner = settings.expected_bucket_owner.as_deref();
    let (packages, stack, functions, bucket, template, role) = tokio::join!(
        join_all(packaging),
        stack::describe(&clients.cloudformation, &settings.stack_name),
        join_all(settings.functions.iter().map(|f| function::get(&clients.lambda, &f.name))),
        async {
            match settings.mode {
                Mode::Rollback(_) | Mode::Promote | Mode::Abort => Ok(()),
                _ => artifact::check_bucket(&clients.s3, &settings.artifact_bucket, owner).await,
            }
        },
        load_template(settings),
        async {
            match &settings.role_arn {
                Some(arn) => stack::check_role(&clients.iam, arn).await,
                None => None,
            }
        },
    );
    let mut found = Found::default();
    found.problems.extend(role);
    for (package, function) in packages.into_iter().zip(functions) {
        let package = found.take(package)?.flatten();
        if let Some(p) = &package {
            log::info(&format!("packaged {} file(s): {} bytes, CodeSha256 {}", p.files, p.size, p.code_sha256));
            if p.excluded_files > 0 {
                log::info(&format!(
                    "left out {} file(s), {} bytes, by `exclude` and .lambdaignore",
                    p.excluded_files, p.excluded_bytes
                ));
            }
        }
        found.functions.push(FunctionFound { package, function: function?, ..FunctionFound::default() });
    }
    if let (Some(upload), [only]) = (upload, found.functions.as_mut_slice()) {
        only.upload = Some(upload);
    }
    let bucket_ok = found.take(bucket)?.is_some();
    found.template = found.take(template)?.unwrap_or(Template::Previous);
    found.stack = match stack? {
        Some(st) if st.status.is_in_progress() => {
            log::warn(&format!(
                "stack {} is in {}: another operation (perhaps another release) is running; waiting for it to finish first",
                settings.stack_name, st.status
            ));
            stack::settle(&clients.cloudformation, poll, &settings.stack_name).await?
        }
        other => other,
    };

    // A stack that cannot be updated explains everything else that looks wrong (its function may
    // have rolled back with it): the plan says so alone, and nothing more is looked up for it.
    let updatable = found.stack.as_ref().is_none_or(|st| !st.status.is_dead_end() || recreating(settings, st));
    if !updatable {
        return Ok(found);
    }
    let stack_id = found.stack.as_ref().filter(|st| !recreating(settings, st)).map(|st| st.id.clone());
    // Without a template, a stack to be created has none to read: the plan says so.
    let summarized = match (&found.template, &found.stack) {
        (Template::Previous, None) => false,
        (Template::Previous, Some(st)) => !recreating(settings, st),
        _ => true,
    };
    let first_launched = found
        .stack
        .as_ref()
        .filter(|st| !recreating(settings, st) && st.parameter(&settings.first_launch_parameter) == Some("true"));
    let (summary, per_function, distribution, other_changes, launched) = tokio::join!(
        async {
            match summarized {
                true => {
                    template::summarize(&clients.cloudformation, &found.template, &settings.stack_name).await.map(Some)
                }
                false => Ok(None),
            }
        },
        join_all(
            settings
                .functions
                .iter()
                .zip(&found.functions)
                .map(|(f, ff)| look_up_function(settings, clients, f, ff, bucket_ok))
        ),
        find_distribution(settings, clients, stack_id.as_deref()),
        async {
            match (&found.stack, matches!(settings.mode, Mode::Release)) {
                (Some(st), true) if !recreating(settings, st) => {
                    other_changes(settings, clients, &found.template, st).await
                }
                _ => Ok(Vec::new()),
            }
        },
        async {
            match first_launched {
                Some(st) => stack::resources_of_type(&clients.cloudformation, &st.id, VERSION_TYPE)
                    .await
                    .map(|r| r.into_iter().map(|(_, physical)| physical).collect()),
                None => Ok(Vec::new()),
            }
        },
    );
    found.summary = found.take(summary)?.flatten();
    for (ff, (rules, versions, object)) in found.functions.iter_mut().zip(per_function) {
        for problem in rules? {
            found.problems.push(problem);
        }
        ff.versions = versions?;
        ff.object = object?;
    }
    found.distribution = found.take(distribution)?.flatten();
    if let (Some(_), Some(id), Some((_, primary))) = (&settings.staged, &stack_id, &found.distribution) {
        let staged = crate::canary::look_up(clients, id, primary).await;
        found.staged = found.take(staged)?;
    }
    found.other_changes = found.take(other_changes)?.unwrap_or_default();
    found.launched_versions = launched?;
    Ok(found)
}

/// One function's second round: Lambda@Edge's rules, its versions, and an object version that holds
/// its packaged code.
async fn look_up_function(
    settings: &Settings,
    clients: &Clients,
    f: &EdgeFunction,
    found: &FunctionFound,
    bucket_ok: bool,
) -> (Result<Vec<Error>>, Result<Vec<FunctionInfo>>, Result<Option<Artifact>>) {
    let owner = settings.expected_bucket_owner.as_deref();
    let sha = found.package.as_ref().map(|p| p.code_sha256.clone());
    tokio::join!(
        async {
            match &found.function {
                Some(info) => function::check_edge_rules(&clients.lambda, &clients.iam, info, &f.name).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match &found.function {
                Some(_) => function::versions(&clients.lambda, &f.name).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match (&sha, bucket_ok) {
                (Some(sha), true) => {
                    artifact::find_zip(
                        &clients.s3,
                        &settings.artifact_bucket,
                        owner,
                        &settings.artifact_key(&f.name),
                        sha,
                    )
                    .await
                }
                _ => Ok(None),
            }
        },
    )
}

fn recreating(settings: &Settings, st: &StackInfo) -> bool {
    settings.recreate_failed_stack && st.status.is_failed_launch() && matches!(settings.mode, Mode::Release)
}

/// The template as given: inline when small, else to be uploaded to the artifact bucket once preflight
/// has passed (CloudFormation takes at most 51,200 bytes inline), or the stack's previous one.
async fn load_template(settings: &Settings) -> Result<Template> {
    match &settings.template {
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
            if text.len() <= template::MAX_INLINE_TEMPLATE {
                return Ok(Template::Body(text));
            }
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("template");
            Ok(Template::Large {
                body: text,
                key: format!("{}{}.{ext}", settings.artifact_prefix, settings.stack_name),
            })
        }
    }
}

/// The distribution to wait for: the input, or the stack's only distribution (None for a stack
/// that does not exist yet: the first launch finds it once created).
pub async fn find_distribution(
    settings: &Settings,
    clients: &Clients,
    stack_id: Option<&str>,
) -> Result<Option<(String, DistributionInfo)>> {
    let id = match (&settings.distribution_id, stack_id) {
        (Some(id), _) => id.clone(),
        (None, None) => return Ok(None),
        (None, Some(stack_id)) => {
            let found = stack::resources_of_type(&clients.cloudformation, stack_id, DISTRIBUTION_TYPE).await?;
            match found.as_slice() {
                [] if settings.wait => return Err(no_distribution(settings)),
                [] => return Ok(None),
                [(_, id)] => id.clone(),
                many => {
                    // Continuous deployment: the staging distribution serves viewers only through
                    // its primary, which is the one to wait for and verify.
                    let mut serving = Vec::new();
                    for (_, id) in many {
                        let info = distribution::get(&clients.cloudfront, id).await?;
                        if !info.staging {
                            serving.push((id.clone(), info));
                        }
                    }
                    if serving.len() == 1 {
                        return Ok(serving.pop());
                    }
                    return Err(Error::precondition(
                        format!(
                            "stack {} has {} distributions that serve viewers ({})",
                            settings.stack_name,
                            serving.len(),
                            serving.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                        "Set `distribution-id` to the one that runs the function.",
                    ));
                }
            }
        }
    };
    let info = distribution::get(&clients.cloudfront, &id).await?;
    Ok(Some((id, info)))
}

pub fn no_distribution(settings: &Settings) -> Error {
    Error::precondition(
        format!("stack {} has no AWS::CloudFront::Distribution, and `distribution-id` is not set", settings.stack_name),
        "Set `distribution-id` to the distribution that runs the function, or `wait: false` to skip waiting and verifying.",
    )
}

/// What a release with these inputs changes in the stack besides the version and the code's object:
/// the template when it differs from the stack's, each given parameter whose value differs, and the
/// tags.
async fn other_changes(
    settings: &Settings,
    clients: &Clients,
    template: &Template,
    st: &StackInfo,
) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let given = match template {
        Template::Body(body) | Template::Large { body, .. } => Some(body),
        Template::Url(_) => {
            changes.push("the template (given by URL, which this run does not compare)".to_owned());
            None
        }
        Template::Previous => None,
    };
    if let Some(body) = given {
        if !template::same_template(&template::template_body(&clients.cloudformation, &st.id).await?, body) {
            changes.push("the template".to_owned());
        }
    }
    for (key, value) in &settings.parameters {
        if st.parameter(key) != Some(value.as_str()) {
            changes.push(format!("parameter {key}"));
        }
    }
    // Tags given replace the stack's whole set.
    if !settings.tags.is_empty() {
        let (mut given, mut has) = (settings.tags.clone(), st.tags.clone());
        given.sort();
        has.sort();
        if given != has {
            changes.push("the stack's tags".to_owned());
        }
    }
    Ok(changes)
}

/// After preflight: a large template goes to the artifact bucket, and CloudFormation reads it there.
pub async fn upload_large_template(settings: &Settings, clients: &Clients, template: &Template) -> Result<Template> {
    let Template::Large { body, key } = template else { return Ok(template.clone()) };
    log::info(&format!(
        "the template is {} bytes, over 51,200: uploading it to s3://{}/{key}",
        body.len(),
        settings.artifact_bucket
    ));
    let owner = settings.expected_bucket_owner.as_deref();
    let url = artifact::upload_template(
        &clients.s3,
        clients.custom_endpoint.as_deref(),
        &settings.artifact_bucket,
        owner,
        key,
        body.clone(),
    )
    .await?;
    Ok(Template::Url(url))
}
