//! Safety: every error the checks before the first write can report, each run by the real binary
//! against the emulator and held to three things: the exit code, a message that names the input or
//! resource and carries the fix, and an emulator left exactly as it was (object versions, function and
//! published versions, stacks and their parameters, distributions and their associations). Then the
//! runs that must succeed or stop cleanly: a failed first launch recreated, a failed update reported,
//! `rollback-to`, secrets kept out of every output, and SIGINT/SIGTERM while waiting.

mod common;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, DeadLetterConfig, Environment, EphemeralStorage, LayerVersionContentInput, TracingConfig,
    TracingMode, UpdateRuntimeOn, VpcConfig,
};

use common::{run, set_marker, Clients, Run, World, BUCKET, FUNCTION, STACK};

const KEY: &str = "edge-fn.zip";

// ---------------------------------------------------------------------------------------------
// One case's world (common::World), and the two launches the cases start from.
// ---------------------------------------------------------------------------------------------

type Ctx = World;

impl World {
    /// The versioned bucket and a first launch of the example, which must succeed.
    async fn launch(&self) -> Run {
        self.c.versioned_bucket(BUCKET).await;
        let r = self.run(&[]);
        assert_eq!(r.code, 0, "the first launch failed:\n{}", r.stderr);
        r
    }

    /// A first launch that fails in CloudFormation (the function's S3 object version does not
    /// exist), which leaves the stack in ROLLBACK_COMPLETE: exit 1, naming the resource and reason.
    async fn failed_launch(&self) -> Run {
        self.c.versioned_bucket(BUCKET).await;
        let r = self.run(&[("INPUT_PARAMETERS", "ArtifactObjectVersion=does-not-exist")]);
        assert_eq!(r.code, 1, "the failed first launch:\n{}", r.stderr);
        for phrase in ["stack site ended in ROLLBACK_COMPLETE", "EdgeFunction (CREATE_FAILED)", "NoSuchVersion"] {
            assert!(r.stderr.contains(phrase), "the failed first launch does not say {phrase:?}:\n{}", r.stderr);
        }
        assert_eq!(self.c.stack_status(STACK).await, "ROLLBACK_COMPLETE");
        r
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator's state, to compare before and after a run.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    /// `bucket/key@version` of every object version and delete marker in every bucket.
    objects: Vec<String>,
    /// The function's `$LATEST` (CodeSha256, RevisionId, configuration) and its published versions.
    function: Option<(String, Vec<String>)>,
    /// Every stack: name, id, status and parameters; deleted ones too.
    stacks: Vec<String>,
    /// Every distribution: id, status, ETag and each Lambda association.
    distributions: Vec<String>,
}

async fn snapshot(c: &Clients) -> Snapshot {
    let mut objects = Vec::new();
    let buckets = c.s3.list_buckets().send().await.unwrap();
    for b in buckets.buckets() {
        let name = b.name().unwrap_or_default();
        let out = c.s3.list_object_versions().bucket(name).send().await.unwrap();
        for v in out.versions() {
            objects.push(format!("{name}/{}@{}", v.key().unwrap_or_default(), v.version_id().unwrap_or_default()));
        }
        for m in out.delete_markers() {
            objects.push(format!(
                "{name}/{}@{} (delete marker)",
                m.key().unwrap_or_default(),
                m.version_id().unwrap_or_default()
            ));
        }
    }
    objects.sort();

    let function = match c.lambda.get_function_configuration().function_name(FUNCTION).send().await {
        Ok(f) => {
            let latest = format!(
                "CodeSha256={} RevisionId={} Runtime={:?} Env={:?} Layers={:?} Vpc={:?} Dlq={:?} Arch={:?}",
                f.code_sha256().unwrap_or_default(),
                f.revision_id().unwrap_or_default(),
                f.runtime(),
                f.environment().and_then(|e| e.variables()),
                f.layers().iter().map(|l| l.arn().unwrap_or_default()).collect::<Vec<_>>(),
                f.vpc_config().map(|v| v.subnet_ids()),
                f.dead_letter_config().and_then(|d| d.target_arn()),
                f.architectures(),
            );
            let versions = c.lambda.list_versions_by_function().function_name(FUNCTION).send().await.unwrap();
            let versions = versions
                .versions()
                .iter()
                .map(|v| format!("{} {}", v.version().unwrap_or_default(), v.code_sha256().unwrap_or_default()))
                .collect();
            Some((latest, versions))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => None,
        Err(e) => panic!("GetFunctionConfiguration: {e:?}"),
    };

    let mut stacks = Vec::new();
    let live = c.cfn.describe_stacks().send().await.unwrap();
    for s in live.stacks() {
        let mut params: Vec<String> = s
            .parameters()
            .iter()
            .map(|p| format!("{}={}", p.parameter_key().unwrap_or_default(), p.parameter_value().unwrap_or_default()))
            .collect();
        params.sort();
        stacks.push(format!(
            "{} {} {} [{}]",
            s.stack_name().unwrap_or_default(),
            s.stack_id().unwrap_or_default(),
            s.stack_status().map(|s| s.as_str()).unwrap_or_default(),
            params.join(", ")
        ));
    }
    let all = c.cfn.list_stacks().send().await.unwrap();
    for s in all.stack_summaries() {
        if s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE") {
            stacks.push(format!(
                "{} {} DELETE_COMPLETE",
                s.stack_name().unwrap_or_default(),
                s.stack_id().unwrap_or_default()
            ));
        }
    }
    stacks.sort();

    let mut distributions = Vec::new();
    let list = c.cf.list_distributions().send().await.unwrap();
    for d in list.distribution_list().map(|l| l.items()).unwrap_or_default() {
        let got = c.cf.get_distribution().id(d.id()).send().await.unwrap();
        let (status, arns) = c.distribution(d.id()).await;
        distributions.push(format!("{} {status} ETag={} {arns:?}", d.id(), got.e_tag().unwrap_or_default()));
    }
    distributions.sort();

    Snapshot { objects, function, stacks, distributions }
}

// ---------------------------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------------------------

type Fut<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;
/// Prepares the emulator (and the scratch directory) for a case.
type Setup = for<'a> fn(&'a Ctx) -> Fut<'a>;
/// More checks after the run, given the state before it.
type After = for<'a> fn(&'a Ctx, &'a Run, &'a Snapshot) -> Fut<'a>;

struct Case {
    setup: Setup,
    /// INPUT_* (and other environment) pairs over the example's inputs; a blank value unsets one.
    inputs: &'static [(&'static str, &'static str)],
    exit: i32,
    /// Phrases stderr must hold: what is wrong, naming the input or resource, and the fix.
    expect: &'static [&'static str],
    /// Phrases stderr must not hold (a wrong diagnosis or fix).
    absent: &'static [&'static str],
    after: Option<After>,
}

const CASE: Case = Case { setup: launched, inputs: &[], exit: 2, expect: &[], absent: &[], after: None };

/// Runs one case on its own emulator. The source always changes after the setup, so that a run
/// that got past its checks would upload, publish and update: exit 2 must leave all of it undone.
async fn check(name: &str, case: Case) {
    let cx = World::start().await;
    (case.setup)(&cx).await;
    set_marker(cx.src.path(), "two");
    let before = snapshot(&cx.c).await;
    let r = cx.run(case.inputs);
    assert_eq!(r.code, case.exit, "case {name}: expected exit {}, got {}:\n{}", case.exit, r.code, r.stderr);
    for phrase in case.expect {
        assert!(r.stderr.contains(phrase), "case {name}: stderr does not say {phrase:?}:\n{}", r.stderr);
    }
    for phrase in case.absent {
        assert!(!r.stderr.contains(phrase), "case {name}: stderr says {phrase:?}, which is wrong here:\n{}", r.stderr);
    }
    if case.exit == 2 {
        let after = snapshot(&cx.c).await;
        assert_eq!(after, before, "case {name}: exit 2 but the emulator's state changed");
        assert!(r.stderr.contains("What to do:"), "case {name}: no fix given:\n{}", r.stderr);
    }
    if let Some(after) = case.after {
        after(&cx, &r, &before).await;
    }
}

macro_rules! cases {
    ($($name:ident => $case:expr;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(stringify!($name), $case).await
            }
        )*
    };
}

cases! {
    // Inputs: reported before any AWS call.
    input_region_other_than_us_east_1 => Case {
        inputs: &[("INPUT_REGION", "eu-west-1")],
        expect: &["input `region`", "`eu-west-1`", "only be created and updated in us-east-1", "set it to us-east-1",
            "Set each input named above"],
        ..CASE
    };
    input_rollback_to_malformed => Case {
        inputs: &[("INPUT_ROLLBACK_TO", "latest"), ("INPUT_SOURCE", "")],
        expect: &["input `rollback-to`", "`latest`", "expected `previous`, a version number", "Set each input named above"],
        ..CASE
    };
    input_rollback_to_latest_arn => Case {
        inputs: &[("INPUT_ROLLBACK_TO", "arn:aws:lambda:us-east-1:123456789012:function:edge-fn:$LATEST"), ("INPUT_SOURCE", "")],
        expect: &["input `rollback-to`", "not `$LATEST` or an alias"],
        ..CASE
    };
    input_expected_bucket_owner_malformed => Case {
        inputs: &[("INPUT_EXPECTED_BUCKET_OWNER", "12345")],
        expect: &["input `expected-bucket-owner`", "`12345` is not an AWS account id (12 digits)", "Set each input named above"],
        ..CASE
    };
    input_source_missing => Case {
        inputs: &[("INPUT_SOURCE", "{files}/nowhere")],
        expect: &["input `source`", "nothing at", "/nowhere", "Set each input named above"],
        ..CASE
    };

    // Fails without the check: an empty zip was deployed as a new live version.
    source_empty_zip => Case {
        setup: launched_with_empty_zip,
        inputs: &[("INPUT_SOURCE", "{files}/empty.zip")],
        expect: &["the zip", "empty.zip holds no files", "Give the zip the build made"],
        ..CASE
    };
    // Fails without the URL check: the release published, then the check could not even be sent.
    input_check_url_malformed => Case {
        inputs: &[("INPUT_CHECK_URL", "/index page.html")],
        expect: &["input `check-url`", "`/index page.html`: expected a path such as `/index.html`"],
        ..CASE
    };
    // Fails without the limit: a duration near the top of its range overflowed the clock and aborted.
    input_timeout_beyond_a_day => Case {
        inputs: &[("INPUT_TIMEOUT", "18446744073709551615s")],
        expect: &["input `timeout`", "is longer than 24h"],
        ..CASE
    };

    // A mode refuses the inputs it would ignore.
    rollback_to_with_a_template => Case {
        inputs: &[("INPUT_SOURCE", ""), ("INPUT_ROLLBACK_TO", "previous"), ("INPUT_FORCE", "true")],
        expect: &["input `template`: means nothing with `rollback-to`", "input `force`: means nothing with `rollback-to`"],
        ..CASE
    };

    // The package.
    source_empty_directory => Case {
        setup: launched_with_empty_dir,
        inputs: &[("INPUT_SOURCE", "{files}/empty")],
        expect: &["the source directory", "/empty holds no files", "Point `source` at the directory holding the function's code"],
        ..CASE
    };
    source_zip_over_50_mb => Case {
        setup: launched_with_big_source,
        inputs: &[("INPUT_SOURCE", "{files}/big")],
        expect: &["the package is over 50 MB compressed", "where packaging stopped); Lambda@Edge accepts at most 50 MB",
            "Leave dev dependencies and source maps out of `source`"],
        ..CASE
    };

    // The artifact bucket.
    bucket_missing => Case {
        inputs: &[("INPUT_ARTIFACT_BUCKET", "missing-artifacts")],
        expect: &["the artifact bucket missing-artifacts does not exist", "Create it in us-east-1 with versioning enabled",
            "put-bucket-versioning --bucket missing-artifacts"],
        ..CASE
    };
    bucket_not_versioned => Case {
        setup: launched_with_plain_bucket,
        inputs: &[("INPUT_ARTIFACT_BUCKET", "plain-artifacts")],
        expect: &["the artifact bucket plain-artifacts does not have versioning enabled",
            "aws s3api put-bucket-versioning --bucket plain-artifacts --versioning-configuration Status=Enabled"],
        ..CASE
    };
    bucket_owned_by_another_account => Case {
        inputs: &[("INPUT_EXPECTED_BUCKET_OWNER", "111111111111")],
        expect: &["the artifact bucket edge-artifacts is not owned by account 111111111111 (`expected-bucket-owner`)",
            "the bucket must belong to 111111111111"],
        ..CASE
    };

    // The function breaks Lambda@Edge's rules.
    function_with_environment_variables => Case {
        setup: with_environment,
        expect: &["function edge-fn cannot run at the edge: it has environment variables", FIX_EDGE],
        ..CASE
    };
    function_with_layers => Case {
        setup: with_layer,
        expect: &["function edge-fn cannot run at the edge: it uses layers", FIX_EDGE],
        ..CASE
    };
    function_in_a_vpc => Case {
        setup: with_vpc,
        expect: &["function edge-fn cannot run at the edge: it is attached to a VPC", FIX_EDGE],
        ..CASE
    };
    function_with_dead_letter_queue => Case {
        setup: with_dead_letter_queue,
        expect: &["function edge-fn cannot run at the edge: it has a dead-letter queue", FIX_EDGE],
        ..CASE
    };
    function_built_for_arm64 => Case {
        setup: with_arm64,
        expect: &["function edge-fn cannot run at the edge: it is built for arm64", FIX_EDGE],
        ..CASE
    };
    function_runtime_java => Case {
        setup: with_java_runtime,
        expect: &["function edge-fn cannot run at the edge: its runtime java21 is not Node.js or Python", FIX_EDGE],
        ..CASE
    };
    function_role_without_edgelambda_trust => Case {
        setup: with_untrusting_role,
        expect: &["of function edge-fn does not trust edgelambda.amazonaws.com",
            "Add edgelambda.amazonaws.com beside lambda.amazonaws.com to the role's trust policy"],
        ..CASE
    };
    // Fails without the newer Lambda@Edge restrictions in preflight: each was found only when
    // CloudFront refused the association, after the upload and the publish.
    function_with_active_tracing => Case {
        setup: with_active_tracing,
        expect: &["function edge-fn cannot run at the edge: it has X-Ray active tracing", FIX_EDGE],
        ..CASE
    };
    function_with_large_ephemeral_storage => Case {
        setup: with_large_ephemeral_storage,
        expect: &["function edge-fn cannot run at the edge: it has 1024 MB of ephemeral storage (Lambda@Edge allows at most 512 MB)", FIX_EDGE],
        ..CASE
    };
    function_with_customer_managed_key => Case {
        setup: with_customer_managed_key,
        expect: &["function edge-fn cannot run at the edge: it is encrypted with the customer-managed KMS key arn:aws:kms:", FIX_EDGE],
        ..CASE
    };
    function_with_manual_runtime_updates => Case {
        setup: with_manual_runtime_updates,
        expect: &["function edge-fn cannot run at the edge: its runtime updates are `FunctionUpdate` (Lambda@Edge needs Auto)", FIX_EDGE],
        ..CASE
    };
    function_with_provisioned_concurrency => Case {
        setup: with_provisioned_concurrency,
        expect: &["function edge-fn cannot run at the edge: it has provisioned concurrency on 1", FIX_EDGE],
        ..CASE
    };
    function_problems_reported_together => Case {
        setup: with_environment_and_java_runtime,
        expect: &["2 problem(s) found before anything was written", "it has environment variables",
            "its runtime java21 is not Node.js or Python", FIX_EDGE, "Fix each problem above"],
        ..CASE
    };

    // The template.
    template_without_version_parameter => Case {
        setup: launched_with_template_lacking_version_parameter,
        inputs: &[("INPUT_TEMPLATE", "{files}/template.yaml")],
        expect: &["the template declares no parameter LambdaVersion", "Declare the first-launch and version parameters in the template",
            "`version-parameter`"],
        ..CASE
    };

    // Fails without the local summary of large templates: preflight uploaded the template to the
    // artifact bucket before it found the problem, and the exit 2 said nothing was changed.
    template_over_51200_bytes_with_a_problem => Case {
        setup: launched_with_large_template_lacking_version_parameter,
        inputs: &[("INPUT_TEMPLATE", "{files}/template.yaml")],
        expect: &["the template declares no parameter LambdaVersion", "Declare the first-launch and version parameters in the template"],
        ..CASE
    };
    template_over_51200_bytes_unreadable => Case {
        setup: launched_with_large_broken_template,
        inputs: &[("INPUT_TEMPLATE", "{files}/template.yaml")],
        expect: &["the template cannot be read", "cfn-lint"],
        ..CASE
    };

    template_not_utf8 => Case {
        setup: launched_with_binary_template,
        inputs: &[("INPUT_TEMPLATE", "{files}/template.yaml")],
        expect: &["is not UTF-8 text", "Save the template as UTF-8 YAML or JSON"],
        ..CASE
    };
    distribution_id_unknown => Case {
        inputs: &[("INPUT_DISTRIBUTION_ID", "E0000000000000")],
        expect: &["CloudFront distribution E0000000000000 does not exist", "Fix `distribution-id`"],
        ..CASE
    };
    rollback_to_another_functions_version => Case {
        inputs: &[("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", ""), ("INPUT_ROLLBACK_TO", "arn:aws:lambda:us-east-1:123456789012:function:other-fn:1")],
        expect: &["names arn:aws:lambda:us-east-1:123456789012:function:other-fn:1, which is not a version of",
            "Give a version of the stack's function"],
        ..CASE
    };

    template_value_outside_allowed_values => Case {
        setup: bucket_and_tiered_template,
        inputs: &[("INPUT_TEMPLATE", "{files}/template.yaml"), ("INPUT_PARAMETERS", "Tier=gold")],
        expect: &["Tier=gold is not one of the template's AllowedValues (bronze, silver)", "Correct `parameters` (Key=Value)", "keep values within AllowedValues"],
        ..CASE
    };
    // Fails without the refusal: the release published a new version, then pointed the stack at the
    // version `parameters` named, and reported the new one.
    parameters_setting_the_version_parameter => Case {
        inputs: &[("INPUT_PARAMETERS", "LambdaVersion=arn:aws:lambda:us-east-1:123456789012:function:edge-fn:1")],
        expect: &["input `parameters`: sets LambdaVersion, which the tool sets itself (the `version-parameter`)", "rollback-to"],
        ..CASE
    };
    template_needing_more_capabilities => Case {
        setup: launched_with_named_role_template,
        inputs: &[("INPUT_TEMPLATE", "{files}/template.yaml"), ("INPUT_CAPABILITIES", "CAPABILITY_IAM")],
        expect: &["the template needs CAPABILITY_NAMED_IAM, which `capabilities` does not give", "Add CAPABILITY_NAMED_IAM to `capabilities`"],
        ..CASE
    };

    // The stack.
    stack_in_rollback_complete => Case {
        setup: failed_first_launch,
        expect: &["stack site is in ROLLBACK_COMPLETE", "aws cloudformation delete-stack --stack-name site",
            "describe-stack-events --stack-name site", "recreate-failed-stack"],
        // The function is missing because the launch rolled back, not because `function-name` is wrong.
        absent: &["Fix `function-name`"],
        ..CASE
    };
    stack_in_rollback_complete_recreated => Case {
        setup: failed_first_launch,
        inputs: &[("INPUT_RECREATE_FAILED_STACK", "true")],
        exit: 0,
        expect: &["ROLLBACK_COMPLETE after a failed first launch; deleting it (`recreate-failed-stack`)"],
        after: Some(recreated),
        ..CASE
    };
    // Fails without the check for REVIEW_IN_PROGRESS: the stack was taken for one in progress and
    // waited on for the whole `timeout` (exit 3 after 30 s here).
    stack_in_review_in_progress => Case {
        setup: stack_awaiting_review,
        inputs: &[("INPUT_TIMEOUT", "30s")],
        expect: &["stack site is in REVIEW_IN_PROGRESS", "was never executed", "list-change-sets --stack-name site",
            "aws cloudformation delete-stack --stack-name site"],
        absent: &["timed out"],
        ..CASE
    };
    // With one token for the delete and the create, the recreation failed on the strict emulator
    // (TokenAlreadyExistsException); a template by URL must be read from its exact S3 object.
    stack_in_rollback_complete_recreated_from_template_url => Case {
        setup: failed_first_launch_and_template_in_s3,
        inputs: &[("INPUT_RECREATE_FAILED_STACK", "true"), ("INPUT_TEMPLATE", ""),
            ("INPUT_TEMPLATE_URL", "{emulator}/edge-artifacts/templates/site.yaml")],
        exit: 0,
        expect: &["ROLLBACK_COMPLETE after a failed first launch; deleting it (`recreate-failed-stack`)"],
        after: Some(recreated),
        ..CASE
    };
    // Fails without DeleteFailed: the run said "nothing was changed" (exit 2) after sending DeleteStack.
    stack_recreation_whose_delete_fails => Case {
        setup: failed_first_launch_that_cannot_be_deleted,
        inputs: &[("INPUT_RECREATE_FAILED_STACK", "true")],
        exit: 1,
        expect: &["stack site could not be deleted (DELETE_FAILED)", "could not be deleted (emulator setting fail_delete_stacks)",
            "describe-stack-events --stack-name site"],
        absent: &["nothing was changed"],
        ..CASE
    };
    stack_first_launch_fails_in_aws => Case {
        setup: bucket_only,
        inputs: &[("INPUT_PARAMETERS", "ArtifactObjectVersion=does-not-exist"), ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", "{files}/summary.md")],
        exit: 1,
        expect: &["::error title=Stack event::EdgeFunction (CREATE_FAILED): ", "NoSuchVersion",
            "stack site ended in ROLLBACK_COMPLETE"],
        after: Some(launch_rolled_back),
        ..CASE
    };
    stack_update_fails_in_aws => Case {
        inputs: &[("INPUT_PARAMETERS", "ArtifactObjectVersion=does-not-exist"), ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", "{files}/summary.md")],
        exit: 1,
        expect: &["::error title=Stack event::EdgeFunction (UPDATE_FAILED): ", "NoSuchVersion",
            "stack site ended in UPDATE_ROLLBACK_COMPLETE", "is Deployed and runs arn:aws:lambda:us-east-1:123456789012:function:edge-fn:"],
        after: Some(update_rolled_back),
        ..CASE
    };

    // rollback-to.
    rollback_to_without_stack => Case {
        inputs: &[("INPUT_ROLLBACK_TO", "previous"), ("INPUT_STACK_NAME", "missing-site"), ("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", "")],
        expect: &["stack missing-site does not exist: there is nothing to roll back", "Fix `stack-name`"],
        ..CASE
    };
    rollback_to_unknown_version => Case {
        inputs: &[("INPUT_ROLLBACK_TO", "7"), ("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", "")],
        expect: &["version arn:aws:lambda:us-east-1:123456789012:function:edge-fn:7 does not exist",
            "aws lambda list-versions-by-function --function-name edge-fn"],
        ..CASE
    };
    rollback_to_previous_of_the_first_version => Case {
        inputs: &[("INPUT_ROLLBACK_TO", "previous"), ("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", "")],
        expect: &["version 1 of edge-fn is the first one published: there is no previous version", "release a fixed version instead"],
        ..CASE
    };
}

const FIX_EDGE: &str = "to meet Lambda@Edge's restrictions: no environment variables, layers, VPC or dead-letter queue; no X-Ray active tracing, provisioned concurrency or customer-managed KMS key; at most 512 MB of ephemeral storage; runtime updates on Auto";

// Setups.

fn launched(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
    })
}

fn launched_with_binary_template(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        std::fs::write(cx.files().join("template.yaml"), [0xff, 0xfe, b'x', 0x80]).unwrap();
    })
}

fn bucket_only(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.c.versioned_bucket(BUCKET).await;
    })
}

fn failed_first_launch(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.failed_launch().await;
    })
}

fn launched_with_empty_dir(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        std::fs::create_dir(cx.files().join("empty")).unwrap();
        // `.git` is left out, so a directory holding only that is empty too.
        std::fs::create_dir_all(cx.files().join("empty/.git")).unwrap();
        std::fs::write(cx.files().join("empty/.git/HEAD"), "ref: refs/heads/main\n").unwrap();
    })
}

fn launched_with_empty_zip(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let empty = std::fs::File::create(cx.files().join("empty.zip")).unwrap();
        zip::ZipWriter::new(empty).finish().unwrap();
    })
}

fn launched_with_big_source(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let big = cx.files().join("big");
        std::fs::create_dir(&big).unwrap();
        std::fs::copy(common::repo().join("examples/edge-function/index.js"), big.join("index.js")).unwrap();
        // Random bytes do not compress: 51 MiB of them make a zip over 50 MiB.
        std::fs::write(big.join("blob.bin"), random_bytes(0x5eed_1234_abcd_0042, 51 * 1024 * 1024)).unwrap();
    })
}

fn launched_with_plain_bucket(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.s3.create_bucket().bucket("plain-artifacts").send().await.unwrap();
    })
}

fn launched_with_template_lacking_version_parameter(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let text = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
        let start = text.find("  LambdaVersion:\n").expect("the example declares LambdaVersion");
        let end = start + text[start..].find("  FunctionName:\n").expect("FunctionName follows LambdaVersion");
        let text =
            format!("{}{}", &text[..start], &text[end..]).replace("!Ref LambdaVersion", "!Ref EdgeFunctionVersion");
        assert!(!text.contains("  LambdaVersion:") && !text.contains("!Ref LambdaVersion"));
        std::fs::write(cx.files().join("template.yaml"), text).unwrap();
    })
}

fn with_environment(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        set_environment(cx).await;
    })
}

fn with_java_runtime(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        set_java_runtime(cx).await;
    })
}

fn with_environment_and_java_runtime(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        set_environment(cx).await;
        set_java_runtime(cx).await;
    })
}

async fn set_environment(cx: &Ctx) {
    cx.c.lambda
        .update_function_configuration()
        .function_name(FUNCTION)
        .environment(Environment::builder().variables("STAGE", "prod").build())
        .send()
        .await
        .unwrap();
}

async fn set_java_runtime(cx: &Ctx) {
    cx.c.lambda
        .update_function_configuration()
        .function_name(FUNCTION)
        .runtime(aws_sdk_lambda::types::Runtime::Java21)
        .send()
        .await
        .unwrap();
}

fn with_layer(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let layer =
            cx.c.lambda
                .publish_layer_version()
                .layer_name("shared")
                .content(LayerVersionContentInput::builder().zip_file(Blob::new(tiny_zip())).build())
                .send()
                .await
                .unwrap();
        cx.c.lambda
            .update_function_configuration()
            .function_name(FUNCTION)
            .layers(layer.layer_version_arn().unwrap())
            .send()
            .await
            .unwrap();
    })
}

fn with_vpc(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.lambda
            .update_function_configuration()
            .function_name(FUNCTION)
            .vpc_config(VpcConfig::builder().subnet_ids("subnet-0a1b2c3d").security_group_ids("sg-0a1b2c3d").build())
            .send()
            .await
            .unwrap();
    })
}

fn with_dead_letter_queue(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.lambda
            .update_function_configuration()
            .function_name(FUNCTION)
            .dead_letter_config(
                DeadLetterConfig::builder().target_arn("arn:aws:sqs:us-east-1:123456789012:edge-fn-dlq").build(),
            )
            .send()
            .await
            .unwrap();
    })
}

fn with_arm64(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let version = cx.c.object_versions(BUCKET, KEY).await.remove(0);
        cx.c.lambda
            .update_function_code()
            .function_name(FUNCTION)
            .s3_bucket(BUCKET)
            .s3_key(KEY)
            .s3_object_version(version)
            .architectures(Architecture::Arm64)
            .send()
            .await
            .unwrap();
    })
}

fn with_untrusting_role(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let f = cx.c.lambda.get_function_configuration().function_name(FUNCTION).send().await.unwrap();
        let role = f.role().unwrap().rsplit('/').next().unwrap().to_owned();
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
        cx.c.iam.update_assume_role_policy().role_name(&role).policy_document(policy).send().await.unwrap();
        let trust = cx.c.iam.get_role().role_name(&role).send().await.unwrap();
        let doc = trust.role().unwrap().assume_role_policy_document().unwrap_or_default().to_owned();
        assert!(!doc.contains("edgelambda"), "the trust policy still names edgelambda: {doc}");
    })
}

fn launched_with_large_template_lacking_version_parameter(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        launched_with_template_lacking_version_parameter(cx).await;
        pad_template(cx);
    })
}

fn launched_with_large_broken_template(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let text = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
        std::fs::write(
            cx.files().join("template.yaml"),
            format!(
                "{text}
  Broken: [unclosed
"
            ),
        )
        .unwrap();
        pad_template(cx);
    })
}

/// Makes the scratch template larger than CloudFormation takes inline, with comments.
fn pad_template(cx: &Ctx) {
    let path = cx.files().join("template.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    while text.len() <= 60_000 {
        text.push_str(
            "# padding: a template this large goes to CloudFormation through S3
",
        );
    }
    std::fs::write(&path, text).unwrap();
}

fn bucket_and_tiered_template(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.c.versioned_bucket(BUCKET).await;
        let text = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
        let tier =
            "  Tier:\n    Type: String\n    AllowedValues: [bronze, silver]\n    Default: bronze\n  OriginDomainName:";
        std::fs::write(cx.files().join("template.yaml"), text.replacen("  OriginDomainName:", tier, 1)).unwrap();
    })
}

fn launched_with_named_role_template(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        let text = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
        let named = text.replacen(
            "    Type: AWS::IAM::Role\n    Properties:\n",
            "    Type: AWS::IAM::Role\n    Properties:\n      RoleName: edge-fn-role\n",
            1,
        );
        assert_ne!(named, text);
        std::fs::write(cx.files().join("template.yaml"), named).unwrap();
    })
}

fn failed_first_launch_that_cannot_be_deleted(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.failed_launch().await;
        cx.emu.configure(serde_json::json!({ "fail_delete_stacks": [STACK] }));
    })
}

fn stack_awaiting_review(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.c.versioned_bucket(BUCKET).await;
        let body = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
        cx.c.cfn
            .create_change_set()
            .stack_name(STACK)
            .change_set_name("review")
            .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
            .template_body(body)
            .parameters(param("FunctionName", FUNCTION))
            .parameters(param("ArtifactBucket", BUCKET))
            .parameters(param("ArtifactKey", KEY))
            .parameters(param("ArtifactObjectVersion", "none"))
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
            .send()
            .await
            .unwrap();
        assert_eq!(cx.c.stack_status(STACK).await, "REVIEW_IN_PROGRESS");
    })
}

fn param(key: &str, value: &str) -> aws_sdk_cloudformation::types::Parameter {
    aws_sdk_cloudformation::types::Parameter::builder().parameter_key(key).parameter_value(value).build()
}

fn failed_first_launch_and_template_in_s3(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.failed_launch().await;
        let body = std::fs::read(common::repo().join("examples/template.yaml")).unwrap();
        cx.c.s3
            .put_object()
            .bucket(BUCKET)
            .key("templates/site.yaml")
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .unwrap();
    })
}

fn with_active_tracing(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.lambda
            .update_function_configuration()
            .function_name(FUNCTION)
            .tracing_config(TracingConfig::builder().mode(TracingMode::Active).build())
            .send()
            .await
            .unwrap();
    })
}

fn with_large_ephemeral_storage(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.lambda
            .update_function_configuration()
            .function_name(FUNCTION)
            .ephemeral_storage(EphemeralStorage::builder().size(1024).build().unwrap())
            .send()
            .await
            .unwrap();
    })
}

fn with_customer_managed_key(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.lambda
            .update_function_configuration()
            .function_name(FUNCTION)
            .kms_key_arn("arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
            .send()
            .await
            .unwrap();
    })
}

fn with_manual_runtime_updates(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.lambda
            .put_runtime_management_config()
            .function_name(FUNCTION)
            .update_runtime_on(UpdateRuntimeOn::FunctionUpdate)
            .send()
            .await
            .unwrap();
    })
}

fn with_provisioned_concurrency(cx: &Ctx) -> Fut<'_> {
    Box::pin(async move {
        cx.launch().await;
        cx.c.lambda
            .put_provisioned_concurrency_config()
            .function_name(FUNCTION)
            .qualifier("1")
            .provisioned_concurrent_executions(2)
            .send()
            .await
            .unwrap();
    })
}

// Checks after a run.

/// The failed stack was deleted and a new one launched, which runs the version it reports.
fn recreated<'a>(cx: &'a Ctx, r: &'a Run, before: &'a Snapshot) -> Fut<'a> {
    Box::pin(async move {
        let failed_id = before
            .stacks
            .iter()
            .find(|s| s.contains("ROLLBACK_COMPLETE"))
            .and_then(|s| s.split(' ').nth(1))
            .expect("a failed stack before the run")
            .to_owned();
        let out = cx.c.cfn.describe_stacks().stack_name(STACK).send().await.unwrap();
        let stack = &out.stacks()[0];
        assert_ne!(stack.stack_id().unwrap(), failed_id, "a new stack");
        assert_eq!(stack.stack_status().unwrap().as_str(), "CREATE_COMPLETE");
        assert_eq!(r.out("stack-id"), stack.stack_id().unwrap());
        assert_eq!(r.out("first-launch"), "true");
        let old = cx.c.cfn.describe_stacks().stack_name(&failed_id).send().await.unwrap();
        assert_eq!(old.stacks()[0].stack_status().unwrap().as_str(), "DELETE_COMPLETE", "the failed stack is deleted");
        let (status, arns) = cx.c.distribution(&r.out("distribution-id")).await;
        assert_eq!(status, "Deployed");
        assert_eq!(arns, vec![r.out("version-arn")], "the distribution runs the released version");
        assert_eq!(cx.c.stack_count().await, 1);
    })
}

/// The first launch rolled back: the outputs and the summary say where the stack ended and why.
fn launch_rolled_back<'a>(cx: &'a Ctx, r: &'a Run, _: &'a Snapshot) -> Fut<'a> {
    Box::pin(async move {
        assert_eq!(cx.c.stack_status(STACK).await, "ROLLBACK_COMPLETE");
        let reason = stack_event_annotation(r);
        let summary = std::fs::read_to_string(cx.files().join("summary.md")).unwrap();
        assert!(summary.contains(&reason), "the summary lacks the failed event {reason:?}:\n{summary}");
        let out = cx.c.cfn.describe_stacks().stack_name(STACK).send().await.unwrap();
        assert_eq!(r.out("stack-id"), out.stacks()[0].stack_id().unwrap());
        assert_eq!(
            r.out("stack-status"),
            "ROLLBACK_COMPLETE",
            "the `stack-status` output must be the stack's status at the end of the run (README, Outputs)"
        );
    })
}

fn stack_event_annotation(r: &Run) -> String {
    r.stderr
        .lines()
        .find_map(|l| l.strip_prefix("::error title=Stack event::"))
        .expect("a Stack event annotation")
        .to_owned()
}

/// The update rolled back: the stack's version parameter is back, the summary says why, and
/// stderr said what the distribution runs.
fn update_rolled_back<'a>(cx: &'a Ctx, r: &'a Run, before: &'a Snapshot) -> Fut<'a> {
    Box::pin(async move {
        assert_eq!(cx.c.stack_status(STACK).await, "UPDATE_ROLLBACK_COMPLETE");
        let previous =
            before.stacks[0].split("LambdaVersion=").nth(1).unwrap().split([',', ']']).next().unwrap().to_owned();
        assert_eq!(cx.c.stack_parameter(STACK, "LambdaVersion").await, previous, "LambdaVersion is back");
        assert_eq!(cx.c.stack_parameter(STACK, "FirstLaunch").await, "true", "FirstLaunch is back");
        let id = cx.c.only_distribution_id().await;
        let (_, arns) = cx.c.distribution(&id).await;
        let runs = format!("distribution {id} is Deployed and runs {}", arns.join(", "));
        assert!(r.stderr.contains(&runs), "stderr does not say {runs:?}:\n{}", r.stderr);
        let reason = stack_event_annotation(r);
        let summary = std::fs::read_to_string(cx.files().join("summary.md")).unwrap();
        assert!(summary.contains(&reason), "the summary lacks the failed event {reason:?}:\n{summary}");
        assert!(summary.contains("UPDATE_ROLLBACK_COMPLETE"), "{summary}");
        // The version published before the stack update is reported, so the next run can reuse it.
        assert_eq!(r.out("version"), "2");
        assert_eq!(
            r.out("stack-status"),
            "UPDATE_ROLLBACK_COMPLETE",
            "the `stack-status` output must be the stack's status at the end of the run (README, Outputs)"
        );
    })
}

/// The snapshot is only worth comparing if it sees what a release changes: each of its parts.
#[tokio::test]
async fn the_snapshot_sees_every_part_of_a_release() {
    let cx = World::start().await;
    cx.launch().await;
    let before = snapshot(&cx.c).await;
    set_marker(cx.src.path(), "two");
    assert_eq!(cx.run(&[]).code, 0);
    let after = snapshot(&cx.c).await;
    assert_ne!(after.objects, before.objects, "a new S3 object version");
    assert_ne!(after.function, before.function, "new code and a new published version");
    assert_ne!(after.stacks, before.stacks, "new stack parameters");
    assert_ne!(after.distributions, before.distributions, "a new association");
}

// ---------------------------------------------------------------------------------------------
// Runs that must succeed, or stop cleanly.
// ---------------------------------------------------------------------------------------------

/// `rollback-to: previous` re-points the stack and the distribution at the version before the live
/// one, publishing and uploading nothing; `rollback-to: 2` goes forward again.
#[tokio::test]
async fn rollback_to_previous_repoints_the_stack_and_distribution() {
    let world = World::start().await;
    let (_emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let _src = &world.src;
    let first = world.run(&[]);
    assert_eq!(first.code, 0);
    let second = world.release("two", &[]);
    assert_eq!(second.code, 0);
    let (v1, v2) = (first.out("version-arn"), second.out("version-arn"));
    assert!(v1.ends_with(":1") && v2.ends_with(":2"), "{v1} {v2}");
    let id = second.out("distribution-id");
    let lambda_versions = c.lambda_versions(FUNCTION).await;
    let s3_versions = c.object_versions(BUCKET, KEY).await;

    for (target, expected) in [("previous", &v1), ("2", &v2)] {
        let r = world.run(&[("INPUT_ROLLBACK_TO", target), ("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", "")]);
        assert_eq!(r.code, 0, "rollback-to {target}");
        assert_eq!(&r.out("version-arn"), expected, "rollback-to {target}");
        assert_eq!(r.out("changed"), "true");
        assert_eq!(&c.stack_parameter(STACK, "LambdaVersion").await, expected, "rollback-to {target}");
        assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "false");
        assert_eq!(c.stack_status(STACK).await, "UPDATE_COMPLETE");
        let (status, arns) = c.distribution(&id).await;
        assert_eq!(status, "Deployed");
        assert_eq!(&arns, &vec![expected.clone()], "rollback-to {target}: the distribution's association");
        assert_eq!(c.lambda_versions(FUNCTION).await, lambda_versions, "rollback-to {target} published nothing");
        assert_eq!(c.object_versions(BUCKET, KEY).await, s3_versions, "rollback-to {target} uploaded nothing");
    }

    // Rolling back to what already runs is a no-op.
    let r = world.run(&[("INPUT_ROLLBACK_TO", "2"), ("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", "")]);
    assert_eq!(r.code, 0);
    assert_eq!(r.out("changed"), "false");
}

const SECRET: &str = "SENTINELsecretKEY0fThisTest9f3a7c1e2b";
const TOKEN: &str = "SENTINELsessionTOKEN0fThisTest5d8e6b4a";
const ACCESS_KEY: &str = "AKIASENTINELKEYID123";

/// With every verbose switch on (workflow commands, debug, outputs, summary), neither the secret
/// access key nor the session token shows anywhere, in successful runs or failing ones.
#[tokio::test]
async fn secrets_never_appear_in_logs_outputs_or_summary() {
    let world = World::with_bucket().await;
    let src = &world.src;
    let output = world.files().join("output");
    let summary = world.files().join("summary.md");
    let env = |more: &[(&str, &str)]| {
        let mut env = world.env(more);
        for (k, v) in env.iter_mut() {
            match k.as_str() {
                "AWS_ACCESS_KEY_ID" => *v = ACCESS_KEY.into(),
                "AWS_SECRET_ACCESS_KEY" => *v = SECRET.into(),
                _ => {}
            }
        }
        env.push(("AWS_SESSION_TOKEN".into(), TOKEN.into()));
        env.push(("GITHUB_ACTIONS".into(), "true".into()));
        env.push(("RUNNER_DEBUG".into(), "1".into()));
        env.push(("GITHUB_OUTPUT".into(), output.display().to_string()));
        env.push(("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()));
        env
    };

    let mut runs = vec![("launch", run(&env(&[]), src.path()), 0)];
    set_marker(src.path(), "two");
    runs.push(("release", run(&env(&[]), src.path()), 0));
    runs.push(("bucket missing", run(&env(&[("INPUT_ARTIFACT_BUCKET", "missing-artifacts")]), src.path()), 2));
    // A parameter refused before any write, and an AWS error (CloudFormation refuses the stack
    // update: its function's code version does not exist), logged in full at debug level.
    set_marker(src.path(), "three");
    runs.push(("refused parameter", run(&env(&[("INPUT_PARAMETERS", "FirstLaunch=maybe")]), src.path()), 2));
    runs.push(("AWS error", run(&env(&[("INPUT_PARAMETERS", "ArtifactObjectVersion=does-not-exist")]), src.path()), 1));

    let mut all = String::new();
    for (what, r, code) in &runs {
        assert_eq!(r.code, *code, "{what}:\n{}", r.stderr);
        all.push_str(&r.stdout);
        all.push_str(&r.stderr);
    }
    assert!(all.contains("::debug::"), "RUNNER_DEBUG=1 produced no debug lines, so the test proves little");
    let output = std::fs::read_to_string(&output).unwrap();
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(output.contains("version-arn"), "{output}");
    assert!(summary.contains("failed"), "{summary}");
    for (name, text) in [("stdout and stderr", &all), ("GITHUB_OUTPUT", &output), ("GITHUB_STEP_SUMMARY", &summary)] {
        for (secret, label) in [(SECRET, "secret access key"), (TOKEN, "session token")] {
            // The whole value, and any long piece of it (a truncated or split echo).
            let pieces: Vec<&str> = (0..=secret.len() - 16).map(|i| &secret[i..i + 16]).collect();
            let found = pieces.iter().find(|p| text.contains(*p));
            assert!(found.is_none(), "the {label} ({:?}) appears in {name}", found);
        }
    }
    // The access key id is an identifier, not a secret: not asserted, but shown.
    eprintln!("access key id appears in the logs: {}", all.contains(ACCESS_KEY));
}

/// SIGINT (and, in a second run, SIGTERM) while waiting for the distribution: the binary stops
/// waiting at once, says what was in progress and how to follow it, and exits 130.
#[tokio::test]
async fn a_timeout_exits_3_naming_what_was_still_in_progress() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    assert_eq!(world.run(&[]).code, 0, "first launch");
    emu.hold_distributions(60);
    set_marker(src.path(), "two");
    let r = world.run(&[("INPUT_TIMEOUT", "3s")]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("timed out after 3s while waiting for CloudFront distribution"), "{}", r.stderr);
    assert!(r.stderr.contains("last seen: InProgress") && r.stderr.contains("longer `timeout`"), "{}", r.stderr);
    let (status, arns) = c.distribution(&c.only_distribution_id().await).await;
    assert_eq!(status, "InProgress", "the run really stopped before CloudFront finished");
    assert_eq!(arns, vec![r.out("version-arn")], "the outputs still name the version being deployed");
}

#[tokio::test]
async fn an_interrupt_stops_waiting_and_exits_130() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    assert_eq!(world.run(&[]).code, 0, "first launch");
    emu.hold_distributions(60);

    for (signal, marker) in [("-INT", "two"), ("-TERM", "three")] {
        set_marker(src.path(), marker);
        let (code, waited, stderr) = interrupt_while_waiting(&world.env(&[]), src.path(), signal);
        assert_eq!(code, Some(130), "SIG{}: exit code\n{stderr}", &signal[1..]);
        assert!(waited < Duration::from_secs(10), "SIG{}: took {waited:?} to exit", &signal[1..]);
        for phrase in ["interrupted during Distribution", "aws cloudfront wait distribution-deployed --id "] {
            assert!(stderr.contains(phrase), "SIG{}: stderr does not say {phrase:?}:\n{stderr}", &signal[1..]);
        }
        assert!(stderr.contains(&format!("(SIG{})", &signal[1..])), "the signal is named:\n{stderr}");
        let id = c.only_distribution_id().await;
        let (status, _) = c.distribution(&id).await;
        assert_eq!(status, "InProgress", "the distribution was still deploying (the wait was real)");
    }
}

/// Starts a release, waits for it to log that it waits for the distribution, sends `signal`, and
/// returns the exit code (None if it had not exited within 10 s), how long it took, and stderr.
fn interrupt_while_waiting(env: &[(String, String)], cwd: &Path, signal: &str) -> (Option<i32>, Duration, String) {
    let (mut child, rx) = common::spawn(env, cwd);
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains("to be Deployed: InProgress");
                log.push_str(&line);
                log.push('\n');
                if found {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the release never logged waiting for the distribution:\n{log}");
            }
        }
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill").args([signal, &pid]).status().expect("run kill");
    assert!(sent.success(), "kill {signal} {pid}");
    let signalled = Instant::now();
    let mut code = None;
    while signalled.elapsed() < Duration::from_secs(10) {
        if let Some(status) = child.try_wait().unwrap() {
            code = Some(status.code().unwrap_or(-1));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let waited = signalled.elapsed();
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // The child has exited or been killed: its stderr ends, and so does the reader.
    log.extend(rx.iter().map(|l| l + "\n"));
    eprintln!("--- lambda-edge-deploy, sent {signal}, exited {code:?} ---\n{log}");
    (code, waited, log)
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// `len` bytes from xorshift64*, seeded: the same bytes every run.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A small zip (one file), for a layer's content.
fn tiny_zip() -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file("nodejs/shared.js", zip::write::SimpleFileOptions::default()).unwrap();
    z.write_all(b"module.exports = {};\n").unwrap();
    z.finish().unwrap().into_inner()
}
