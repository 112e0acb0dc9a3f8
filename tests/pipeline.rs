//! The pipeline end to end: the real binary against the emulator, checked against the emulator's state.

mod common;

use common::{inputs, run, set_marker, Emulator, World, BUCKET, FUNCTION, STACK};

const KEY: &str = "edge-fn.zip";

/// First launch of the example with a non-default origin, so later releases can show it is kept.
async fn launch(emu: &Emulator, c: &common::Clients, source: &std::path::Path) -> common::Run {
    c.versioned_bucket(BUCKET).await;
    let mut env = emu.env();
    env.extend(inputs(source, &[("INPUT_PARAMETERS", "OriginDomainName=origin.example.org")]));
    let r = run(&env, source);
    assert_eq!(r.code, 0, "first launch failed");
    r
}

#[tokio::test]
async fn first_launch_creates_the_stack_and_associates_its_own_version() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    let r = launch(emu, c, src.path()).await;

    assert_eq!(c.stack_status(STACK).await, "CREATE_COMPLETE");
    assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "true");
    let versions = c.lambda_versions(FUNCTION).await;
    assert_eq!(versions.len(), 1, "the stack's own version only: {versions:?}");
    let version_arn = r.out("version-arn");
    assert!(version_arn.ends_with(&format!(":function:{FUNCTION}:{}", versions[0])), "{version_arn}");
    let id = c.only_distribution_id().await;
    let (status, arns) = c.distribution(&id).await;
    assert_eq!(status, "Deployed");
    assert_eq!(arns, vec![version_arn.clone()]);
    assert_eq!(r.out("distribution-id"), id);
    assert_eq!(r.out("first-launch"), "true");
    assert_eq!(r.out("changed"), "true");
    assert_eq!(r.out("s3-version-id"), c.object_versions(BUCKET, KEY).await[0]);
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, r.out("s3-version-id"));
}

#[tokio::test]
async fn a_code_change_publishes_a_version_and_repoints_the_stack_and_distribution() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    let first = launch(emu, c, src.path()).await;

    set_marker(src.path(), "two");
    let mut env = emu.env();
    // A release with the code alone: the stack's template and other parameters are kept.
    env.extend(
        inputs(src.path(), &[("INPUT_INVALIDATION_PATHS", "/*,/index.html")])
            .into_iter()
            .filter(|(k, _)| k != "INPUT_TEMPLATE"),
    );
    let r = run(&env, src.path());
    assert_eq!(r.code, 0);

    let versions = c.lambda_versions(FUNCTION).await;
    assert_eq!(versions.len(), 2, "{versions:?}");
    let version_arn = r.out("version-arn");
    assert_ne!(version_arn, first.out("version-arn"));
    assert!(version_arn.ends_with(&format!(":{}", r.out("version"))));
    assert!(versions.contains(&r.out("version")));
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, version_arn);
    assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "false");
    assert_eq!(c.stack_parameter(STACK, "OriginDomainName").await, "origin.example.org");
    let (status, arns) = c.distribution(&r.out("distribution-id")).await;
    assert_eq!(status, "Deployed");
    assert_eq!(arns, vec![version_arn.clone()]);
    let s3_versions = c.object_versions(BUCKET, KEY).await;
    assert_eq!(s3_versions.len(), 2);
    assert_eq!(r.out("s3-version-id"), s3_versions[0], "the newest object version is this release's");
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, s3_versions[0]);
    // The published version holds exactly the uploaded zip.
    let v = c.lambda.get_function_configuration().function_name(&version_arn).send().await.unwrap();
    assert_eq!(v.code_sha256(), Some(r.out("code-sha256").as_str()));
    assert_eq!(r.out("changed"), "true");
    assert_eq!(r.out("first-launch"), "false");
    assert_eq!(r.out("stack-status"), "UPDATE_COMPLETE");
    let inv =
        c.cf.get_invalidation()
            .distribution_id(r.out("distribution-id"))
            .id(r.out("invalidation-id"))
            .send()
            .await
            .unwrap();
    let paths = inv.invalidation().unwrap().invalidation_batch().unwrap().paths().unwrap().items().to_vec();
    assert_eq!(paths, vec!["/*".to_string(), "/index.html".to_string()]);
}

#[tokio::test]
async fn the_same_code_again_changes_nothing_whatever_the_mtimes() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    launch(emu, c, src.path()).await;
    set_marker(src.path(), "two");
    let released = world.run(&[]);
    assert_eq!(released.code, 0);
    let s3_before = c.object_versions(BUCKET, KEY).await;
    let lambda_before = c.lambda_versions(FUNCTION).await;

    // Same content, new modification times and rewritten files.
    for entry in std::fs::read_dir(src.path()).unwrap() {
        let path = entry.unwrap().path();
        let content = std::fs::read(&path).unwrap();
        std::fs::write(&path, content).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    }
    for with_template in [true, false] {
        let mut env = emu.env();
        env.extend(inputs(src.path(), &[]).into_iter().filter(|(k, _)| with_template || k != "INPUT_TEMPLATE"));
        let again = run(&env, src.path());
        assert_eq!(again.code, 0);
        assert_eq!(again.out("changed"), "false");
        assert_eq!(again.out("version-arn"), released.out("version-arn"));
        assert_eq!(again.out("code-sha256"), released.out("code-sha256"));
        assert_eq!(again.out("s3-version-id"), released.out("s3-version-id"));
        assert_eq!(c.object_versions(BUCKET, KEY).await, s3_before, "no new S3 object version");
        assert_eq!(c.lambda_versions(FUNCTION).await, lambda_before, "no new Lambda version");
        assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, released.out("version-arn"));
    }
}

#[tokio::test]
async fn a_distribution_held_in_progress_is_waited_for() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    launch(emu, c, src.path()).await;
    emu.hold_distributions(4);

    set_marker(src.path(), "two");
    let r = world.run(&[]);
    assert_eq!(r.code, 0);
    // Read at once: had the binary not waited, the distribution would still be InProgress.
    let (status, arns) = c.distribution(&r.out("distribution-id")).await;
    assert_eq!(status, "Deployed");
    assert_eq!(arns, vec![r.out("version-arn")]);
    assert!(r.stderr.contains("to be Deployed: InProgress"), "the wait was not logged: {}", r.stderr);
    assert!(r.stderr.contains("is Deployed and runs"), "{}", r.stderr);
}

#[tokio::test]
async fn github_output_parses_as_the_runner_parses_it_and_matches_stdout() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    let files = tempfile::tempdir().unwrap();
    let output = files.path().join("output");
    let summary = files.path().join("summary");
    // The runner appends to files other steps already wrote to.
    std::fs::write(&output, "earlier=step\n").unwrap();
    let mut env = emu.env();
    env.extend(inputs(src.path(), &[]));
    env.push(("GITHUB_OUTPUT".into(), output.display().to_string()));
    env.push(("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()));
    let r = run(&env, src.path());
    assert_eq!(r.code, 0);

    let parsed = common::runner::parse_output_file(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(parsed[0], ("earlier".to_string(), "step".to_string()));
    let json = r.json();
    let object = json.as_object().unwrap();
    // The stack's Outputs are one `stack-output-<Name>` each in GITHUB_OUTPUT, one object in the JSON.
    let (stack_outputs, declared): (Vec<_>, Vec<_>) =
        parsed[1..].iter().partition(|(name, _)| name.starts_with("stack-output-"));
    assert_eq!(declared.len(), object.len() - 1);
    for (name, value) in declared {
        let j = &object[name];
        assert_eq!(&j.as_str().map(str::to_owned).unwrap_or_else(|| j.to_string()), value, "{name}");
    }
    let in_json = object["stack-outputs"].as_object().expect("stack-outputs is an object");
    assert_eq!(stack_outputs.len(), in_json.len());
    for (name, value) in stack_outputs {
        assert_eq!(in_json[name.strip_prefix("stack-output-").unwrap()], value.as_str(), "{name}");
    }
    assert!(object["version-arn"].as_str().unwrap().contains(":function:edge-fn:"));
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains(&format!("`{}`", r.out("version"))), "{summary}");
}

#[tokio::test]
async fn several_input_errors_are_all_reported_and_nothing_is_created() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let mut env = emu.env();
    env.extend([
        ("INPUT_FUNCTION-NAME".to_string(), "not a name".to_string()),
        ("INPUT_ARTIFACT-BUCKET".to_string(), "Bad_Bucket".to_string()),
        ("INPUT_SOURCE".to_string(), "./missing".to_string()),
        ("INPUT_WAIT".to_string(), "maybe".to_string()),
        ("INPUT_TIMEOUT".to_string(), "forever".to_string()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let r = run(&env, dir.path());
    assert_eq!(r.code, 2);
    for input in ["function-name", "stack-name", "artifact-bucket", "source", "wait", "timeout"] {
        assert!(r.stderr.contains(&format!("input `{input}`")), "{input} not reported");
    }
    assert!(c.s3.list_buckets().send().await.unwrap().buckets().is_empty());
    assert_eq!(c.stack_count().await, 0);
    assert!(c.lambda.list_functions().send().await.unwrap().functions().is_empty());
}
#[test]
fn the_output_parser_follows_the_runners_rules() {
    let parsed = common::runner::parse_output_file("a=1\nb<<EOF\nx\ny=z\nEOF\nc=<<not heredoc\n").unwrap();
    assert_eq!(
        parsed,
        vec![("a".into(), "1".into()), ("b".into(), "x\ny=z".into()), ("c".into(), "<<not heredoc".into())]
    );
    assert!(common::runner::parse_output_file("b<<EOF\nx\n").is_err());
    assert!(common::runner::parse_output_file("b<<EOF\nx\nEOF").is_err());
    assert!(common::runner::parse_output_file("=1\n").is_err());
}

/// The example template made larger than CloudFormation takes inline (51,200 bytes), with comments.
fn large_template(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
    while text.len() <= 60_000 {
        text.push_str("# padding: a template this large goes to CloudFormation through S3\n");
    }
    let path = dir.join("template.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_template_over_51200_bytes_goes_through_the_artifact_bucket_after_preflight() {
    let world = World::start().await;
    let (_emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let _src = &world.src;
    let files = tempfile::tempdir().unwrap();
    let template = large_template(files.path()).display().to_string();
    let first = world.run(&[("INPUT_TEMPLATE", &template)]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(c.stack_status(STACK).await, "CREATE_COMPLETE");
    assert_eq!(c.object_versions(BUCKET, "site.yaml").await.len(), 1, "the template went through S3");

    let r = world.release("two", &[("INPUT_TEMPLATE", &template)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"));
    assert_eq!(c.object_versions(BUCKET, "site.yaml").await.len(), 2);
    // A dry run reads the large template without uploading anything.
    let r = world.release("three", &[("INPUT_TEMPLATE", &template), ("INPUT_DRY_RUN", "true")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(c.object_versions(BUCKET, "site.yaml").await.len(), 2, "a dry run uploads nothing");
}

// Fails without the 403 treated as a missing key: S3 answers HeadObject of a missing key with 403
// when the caller lacks s3:ListBucket (the README's policy grants none), and the release stopped.
#[tokio::test]
async fn a_missing_zip_is_uploaded_again_when_s3_answers_403_for_it() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    launch(emu, c, src.path()).await;
    emu.configure(serde_json::json!({ "s3_list_bucket": false }));
    // The zip's current version is deleted (a lifecycle rule, a clean-up): the code is unchanged.
    c.s3.delete_object().bucket(BUCKET).key(KEY).send().await.unwrap();
    let before = c.object_versions(BUCKET, KEY).await;

    let r = world.run(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = c.object_versions(BUCKET, KEY).await;
    assert_eq!(after.len(), before.len() + 1, "uploaded anew");
    assert_eq!(r.out("s3-version-id"), after[0]);
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, after[0]);
}

/// The first run after a first launch, with the code unchanged and the template given: the stack's
/// FirstLaunch parameter flips to false, which changes nothing the site runs.
#[tokio::test]
async fn unchanged_code_with_the_template_given_changes_nothing_and_invalidates_nothing() {
    let world = World::with_bucket().await;
    let c = &world.c;
    let paths = [("INPUT_INVALIDATION_PATHS", "/*")];
    let first = world.run(&paths);
    assert_eq!(first.code, 0);
    let id = c.only_distribution_id().await;
    let count = |l: aws_sdk_cloudfront::operation::list_invalidations::ListInvalidationsOutput| {
        l.invalidation_list().map(|l| l.items().len()).unwrap_or_default()
    };
    let before = count(c.cf.list_invalidations().distribution_id(&id).send().await.unwrap());
    assert_eq!(before, 1, "the first launch invalidates /*");

    for round in ["the flip of FirstLaunch", "CloudFormation's No updates"] {
        let again = world.run(&paths);
        assert_eq!(again.code, 0, "{round}");
        assert_eq!(again.out("changed"), "false", "{round}: {}", again.stderr);
        assert_eq!(again.out("version-arn"), first.out("version-arn"), "{round}");
        let after = count(c.cf.list_invalidations().distribution_id(&id).send().await.unwrap());
        assert_eq!(after, before, "{round}: no new invalidation");
        assert!(!again.stderr.contains("== Function"), "{round}: no empty phase:\n{}", again.stderr);
        assert_eq!(c.lambda_versions(FUNCTION).await.len(), 1, "{round}");
    }
    assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "false");
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, first.out("version-arn"));
}
