//! A stack with CloudFront continuous deployment (examples/staged): a primary and a staging
//! distribution and a policy. Released directly, the tool picks the primary and the staging
//! distribution follows it. Released in stages (`strategy: staged`), the new version runs on the
//! staging distribution first (the check reaches it through the policy's header), then the primary
//! takes it (promotion), or the canary is withdrawn (abort) and the primary never ran it: what the
//! emulator's association history of each distribution shows, whatever the tool reports.

mod common;

use std::time::Duration;

use common::{World, FUNCTION, STACK};

fn template() -> String {
    common::repo().join("examples/staged/template.yaml").display().to_string()
}

fn arn(n: u32) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}:{n}")
}

/// The primary and the staging distribution of the stack, by their Staging flag.
async fn distributions(world: &World) -> (String, String) {
    let out = world.c.cf.list_distributions().send().await.unwrap();
    let items = out.distribution_list().map(|l| l.items()).unwrap_or_default();
    assert_eq!(items.len(), 2, "a primary and a staging distribution");
    let mut primary = String::new();
    let mut staging = String::new();
    for d in items {
        let config = world.c.cf.get_distribution_config().id(d.id()).send().await.unwrap();
        match config.distribution_config().and_then(|c| c.staging()) {
            Some(true) => staging = d.id().to_owned(),
            _ => primary = d.id().to_owned(),
        }
    }
    (primary, staging)
}

/// One request to the primary's edge: (X-Edge-Release, X-Edge-Distribution).
fn edge(url: &str, canary: bool) -> (String, String) {
    let mut request = ureq::get(url).config().http_status_as_error(false).build();
    if canary {
        request = request.header("aws-cf-cd-canary", "1");
    }
    let response = request.call().expect("request the edge");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (header("x-edge-release"), header("x-edge-distribution"))
}

#[tokio::test]
async fn a_stack_with_continuous_deployment_is_released_through_its_primary() {
    let world = World::with_bucket().await;
    let template = template();
    let launch = world.run(&[("INPUT_TEMPLATE", template.as_str())]);
    assert_eq!(launch.code, 0, "the tool picks the primary among the stack's distributions");
    let (primary, staging) = distributions(&world).await;
    assert_eq!(launch.out("distribution-id"), primary);
    assert_eq!(world.c.associations(&primary).await, vec![("origin-request".to_owned(), arn(1))]);

    let two = world.release("two", &[("INPUT_TEMPLATE", "")]);
    assert_eq!((two.code, two.out("version-arn")), (0, arn(2)));
    assert_eq!(world.c.associations(&primary).await, vec![("origin-request".to_owned(), arn(2))]);
    assert_eq!(world.c.associations(&staging).await, vec![("origin-request".to_owned(), arn(2))], "staging follows");

    // A canary by hand: the staging distribution runs version 1 for the requests with the header.
    let canary = format!("CandidateVersion={}\nCanaryEnabled=true", arn(1));
    let r = world.run(&[("INPUT_TEMPLATE", ""), ("INPUT_PARAMETERS", canary.as_str())]);
    assert_eq!(r.code, 0);
    assert_eq!(
        world.c.associations(&primary).await,
        vec![("origin-request".to_owned(), arn(2))],
        "the primary keeps 2"
    );
    let url = world.emu.edge(&primary);
    assert_eq!(edge(&format!("{url}/index.html"), false), ("two".to_owned(), primary.clone()));
    assert_eq!(edge(&format!("{url}/index.html"), true), ("one".to_owned(), staging.clone()));
    assert_eq!(world.c.stack_parameter(STACK, "LambdaVersion").await, arn(2));
}

#[tokio::test]
async fn two_serving_distributions_need_distribution_id_and_a_launch_says_it_changed_something() {
    let world = World::with_bucket().await;
    let example = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
    let start = example.find("  Distribution:\n").unwrap();
    let end = example.find("\nOutputs:").unwrap();
    let second = example[start..end].replacen("  Distribution:\n", "  SecondDistribution:\n", 1);
    let doubled = format!("{}\n{second}{}", &example[..end], &example[end..]);
    let path = world.files().join("two.yaml");
    std::fs::write(&path, doubled).unwrap();

    let r = world.run(&[("INPUT_TEMPLATE", path.to_str().unwrap())]);
    assert_eq!(r.code, 1, "the stack was created: not a precondition's exit 2");
    assert!(
        r.stderr.contains("stack site was created, but stack site has 2 distributions that serve viewers"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Set `distribution-id`"), "{}", r.stderr);
    assert_eq!(world.c.stack_status(STACK).await, "CREATE_COMPLETE");

    // Named, the release goes on; unnamed, a release is refused before any write.
    let id = world.c.stack_resource_id(STACK, "Distribution").await;
    let named = world.release("two", &[("INPUT_TEMPLATE", ""), ("INPUT_DISTRIBUTION_ID", id.as_str())]);
    assert_eq!((named.code, named.out("distribution-id")), (0, id));
    let unnamed = world.release("three", &[("INPUT_TEMPLATE", "")]);
    assert_eq!(unnamed.code, 2);
    assert!(unnamed.stderr.contains("2 distributions that serve viewers"), "{}", unnamed.stderr);
    assert_eq!(world.c.lambda_versions(FUNCTION).await.len(), 2, "nothing published by the refused run");
}

/// Every version ARN a distribution has associated, in order (the emulator's history of changes).
fn history(world: &World, id: &str) -> Vec<String> {
    let url = format!("{}/_emulator/associations?DistributionId={id}", world.emu.url);
    let mut response = ureq::get(&url).call().expect("read the association history");
    let entries: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    entries["History"]
        .as_array()
        .expect("a list of changes")
        .iter()
        .flat_map(|e| e["Associations"].as_array().cloned().unwrap_or_default())
        .map(|a| a["LambdaFunctionARN"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A world whose stack is examples/staged, launched (version 1 on both distributions).
async fn launched() -> (World, String, String) {
    let world = World::with_bucket().await;
    let template = template();
    let launch = world.run(&[("INPUT_TEMPLATE", template.as_str()), ("INPUT_STRATEGY", "staged")]);
    assert_eq!(launch.code, 0, "a staged first launch is a first launch: {}", launch.stderr);
    assert_eq!(launch.out("canary-result"), "", "nothing ran before: no canary at a first launch");
    let (primary, staging) = distributions(&world).await;
    (world, primary, staging)
}

/// The policy of the primary: (enabled, traffic type, weight).
async fn policy(world: &World, primary: &str) -> (bool, String, Option<f32>) {
    let d = world.c.cf.get_distribution_config().id(primary).send().await.unwrap();
    let id = d.distribution_config().and_then(|c| c.continuous_deployment_policy_id()).expect("a policy").to_owned();
    let p = world.c.cf.get_continuous_deployment_policy().id(id).send().await.unwrap();
    let config = p.continuous_deployment_policy().and_then(|p| p.continuous_deployment_policy_config()).unwrap();
    let traffic = config.traffic_config().unwrap();
    (config.enabled(), traffic.r#type().as_str().to_owned(), traffic.single_weight_config().map(|w| w.weight()))
}

async fn status(world: &World, id: &str) -> String {
    let d = world.c.cf.get_distribution().id(id).send().await.unwrap();
    d.distribution().unwrap().status().to_owned()
}

fn only(arn: String) -> Vec<(String, String)> {
    vec![("origin-request".to_owned(), arn)]
}

#[tokio::test]
async fn a_staged_release_whose_check_passes_is_promoted() {
    let (world, primary, staging) = launched().await;
    let edge = world.emu.edge(&primary);
    let url = format!("{edge}/index.html");
    let r = world.release(
        "two",
        &[
            ("INPUT_TEMPLATE", ""),
            ("INPUT_STRATEGY", "staged"),
            ("INPUT_CHECK_URL", url.as_str()),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^two$"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        (r.out("canary-result"), r.out("staging-distribution-id"), r.out("version-arn")),
        ("promoted".to_owned(), staging.clone(), arn(2))
    );
    assert_eq!(r.out("check-result"), "passed");
    assert_eq!(world.c.associations(&primary).await, only(arn(2)));
    assert_eq!(world.c.associations(&staging).await, only(arn(2)));
    assert!(!policy(&world, &primary).await.0, "the policy is disabled after promotion");
    assert_eq!(
        (status(&world, &primary).await, status(&world, &staging).await),
        ("Deployed".into(), "Deployed".into())
    );
    assert_eq!(world.c.stack_parameter(STACK, "LambdaVersion").await, arn(2));
    assert_eq!(world.c.stack_parameter(STACK, "CandidateVersion").await, "NONE");
    // The staging distribution ran 2 before the primary did, and the check reached it there.
    assert_eq!(history(&world, &staging), vec![arn(1), arn(2)]);
    assert_eq!(history(&world, &primary), vec![arn(1), arn(2)]);
    let checked: Vec<serde_json::Value> = common::edge_log(&edge)
        .into_iter()
        .filter(|e| e["distribution"] == staging.as_str() && e["release"] == "two")
        .collect();
    assert!(!checked.is_empty(), "the check's requests were answered by the staging distribution");
    // The log says what each stack update set: the canary on, then the promotion.
    assert!(r.stderr.contains("CandidateVersion=") && r.stderr.contains("promoting"), "{}", r.stderr);
}

#[tokio::test]
async fn a_staged_release_whose_check_fails_is_aborted_and_the_primary_never_ran_it() {
    let (world, primary, staging) = launched().await;
    let url = format!("{}/index.html", world.emu.edge(&primary));
    let r = world.release(
        "two",
        &[
            ("INPUT_TEMPLATE", ""),
            ("INPUT_STRATEGY", "staged"),
            ("INPUT_CHECK_URL", url.as_str()),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^something-else$"),
            ("INPUT_CHECK_TIMEOUT", "3s"),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!((r.out("canary-result"), r.out("check-result")), ("aborted".to_owned(), "failed".to_owned()));
    assert!(r.stderr.contains("the check of the canary (with `aws-cf-cd-canary: 1`) failed"), "{}", r.stderr);
    assert!(r.stderr.contains("The canary was aborted"), "{}", r.stderr);
    assert_eq!(r.out("version-arn"), arn(1), "the outputs describe what runs");
    assert!(!history(&world, &primary).contains(&arn(2)), "the primary never associated version 2");
    assert_eq!(history(&world, &staging), vec![arn(1), arn(2), arn(1)], "the canary ran, then was withdrawn");
    assert_eq!(world.c.associations(&primary).await, only(arn(1)));
    assert!(!policy(&world, &primary).await.0);
    assert_eq!(world.c.stack_parameter(STACK, "CanaryEnabled").await, "false");
    assert_eq!(world.c.stack_parameter(STACK, "CandidateVersion").await, "NONE");
}

#[tokio::test]
async fn a_bake_whose_error_rate_exceeds_the_limit_is_aborted() {
    let (world, primary, staging) = launched().await;
    set_marker_two(&world);
    let env = world.env(&[
        ("INPUT_TEMPLATE", ""),
        ("INPUT_STRATEGY", "staged"),
        ("INPUT_CANARY_WEIGHT", "0.1"),
        ("INPUT_BAKE_TIME", "20s"),
        ("INPUT_MAX_ERROR_RATE", "5"),
    ]);
    let (mut child, lines) = common::spawn(&env, world.src.path());
    let mut stderr = String::new();
    // Once the weight is live and the bake watches, the staging distribution starts failing.
    loop {
        let line = lines.recv_timeout(Duration::from_secs(120)).expect("the run reaches its bake");
        stderr.push_str(&line);
        stderr.push('\n');
        if line.contains("baking for") {
            break;
        }
    }
    assert_eq!(policy(&world, &primary).await, (true, "SingleWeight".to_owned(), Some(0.1)));
    put_error_rate(&world, &staging, 50.0).await;
    put_error_rate(&world, &primary, 90.0).await; // the primary's rate is not the canary's
    let status = child.wait().expect("the run ends");
    stderr.extend(lines.try_iter().map(|l| l + "\n"));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("5xxErrorRate was 50 %"), "{stderr}");
    assert!(stderr.contains("The canary was aborted"), "{stderr}");
    assert!(!history(&world, &primary).contains(&arn(2)));
    assert_eq!(world.c.associations(&staging).await, only(arn(1)));
    assert!(!policy(&world, &primary).await.0);
}

fn set_marker_two(world: &World) {
    common::set_marker(world.src.path(), "two");
}

/// One datum of the distribution's 5xxErrorRate, as CloudFront publishes it.
async fn put_error_rate(world: &World, id: &str, percent: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&world.emu.url)
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let datum = MetricDatum::builder()
        .metric_name("5xxErrorRate")
        .dimensions(Dimension::builder().name("DistributionId").value(id).build())
        .dimensions(Dimension::builder().name("Region").value("Global").build())
        .value(percent)
        .timestamp(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
        .build();
    cw.put_metric_data().namespace("AWS/CloudFront").metric_data(datum).send().await.unwrap();
}

#[tokio::test]
async fn promote_false_leaves_the_canary_for_mode_promote_or_mode_abort() {
    let (world, primary, staging) = launched().await;
    // A canary on a share of all requests, whose bake sees a low error rate: passed, left live.
    put_error_rate(&world, &staging, 0.5).await;
    let r = world.release(
        "two",
        &[
            ("INPUT_TEMPLATE", ""),
            ("INPUT_STRATEGY", "staged"),
            ("INPUT_CANARY_WEIGHT", "0.05"),
            ("INPUT_BAKE_TIME", "2s"),
            ("INPUT_PROMOTE", "false"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((r.out("canary-result"), r.out("version-arn")), ("passed".to_owned(), arn(2)));
    assert_eq!(world.c.associations(&primary).await, only(arn(1)));
    assert_eq!(world.c.associations(&staging).await, only(arn(2)));
    assert_eq!(policy(&world, &primary).await, (true, "SingleWeight".to_owned(), Some(0.05)));

    // Another release while the canary is live is refused before any write.
    let versions = world.c.lambda_versions(FUNCTION).await.len();
    let other = world.release("three", &[("INPUT_TEMPLATE", ""), ("INPUT_STRATEGY", "staged")]);
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(other.stderr.contains(&format!("a canary of {} is live", arn(2))), "{}", other.stderr);
    assert_eq!(world.c.lambda_versions(FUNCTION).await.len(), versions, "nothing published");

    let promote = world.run(&[("INPUT_TEMPLATE", ""), ("INPUT_SOURCE", ""), ("INPUT_MODE", "promote")]);
    assert_eq!(promote.code, 0, "{}", promote.stderr);
    assert_eq!((promote.out("canary-result"), promote.out("version-arn")), ("promoted".to_owned(), arn(2)));
    assert_eq!(world.c.associations(&primary).await, only(arn(2)));
    assert_eq!(world.c.associations(&staging).await, only(arn(2)));
    assert!(!policy(&world, &primary).await.0);

    // A canary of 3 left live unchecked, then withdrawn: both run 2, the primary never ran 3.
    let three =
        world.release("three", &[("INPUT_TEMPLATE", ""), ("INPUT_STRATEGY", "staged"), ("INPUT_PROMOTE", "false")]);
    assert_eq!((three.code, three.out("canary-result")), (0, "pending".to_owned()), "{}", three.stderr);
    assert_eq!(world.c.associations(&staging).await, only(arn(3)));
    let abort = world.run(&[("INPUT_TEMPLATE", ""), ("INPUT_SOURCE", ""), ("INPUT_MODE", "abort")]);
    assert_eq!(abort.code, 0, "{}", abort.stderr);
    assert_eq!((abort.out("canary-result"), abort.out("version-arn")), ("aborted".to_owned(), arn(2)));
    assert_eq!(world.c.associations(&primary).await, only(arn(2)));
    assert_eq!(world.c.associations(&staging).await, only(arn(2)));
    assert!(!policy(&world, &primary).await.0);
    assert!(!history(&world, &primary).contains(&arn(3)));
    assert_eq!(world.c.stack_parameter(STACK, "CandidateVersion").await, "NONE");

    // Nothing left to finish: promote says so (exit 2), abort has nothing to do (exit 0).
    let again = world.run(&[("INPUT_TEMPLATE", ""), ("INPUT_SOURCE", ""), ("INPUT_MODE", "promote")]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("no canary is live on stack site"), "{}", again.stderr);
    let noop = world.run(&[("INPUT_TEMPLATE", ""), ("INPUT_SOURCE", ""), ("INPUT_MODE", "abort")]);
    assert_eq!((noop.code, noop.out("changed")), (0, "false".to_owned()), "{}", noop.stderr);
}

#[tokio::test]
async fn staged_input_errors_exit_2_and_change_nothing() {
    let (world, primary, _) = launched().await;
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("INPUT_CANARY_WEIGHT", "0.2"), ("INPUT_BAKE_TIME", "1m")], "canary-weight"),
        (&[("INPUT_CANARY_HEADER", "x-canary")], "starts with `aws-cf-cd-`"),
        (&[("INPUT_PARAMETERS", "CanaryEnabled=true")], "which a staged release sets itself"),
    ];
    for (more, expected) in cases {
        let mut inputs = vec![("INPUT_TEMPLATE", ""), ("INPUT_STRATEGY", "staged")];
        inputs.extend_from_slice(more);
        let r = world.release("two", &inputs);
        assert_eq!(r.code, 2, "{more:?}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{more:?}: {}", r.stderr);
    }
    // A stack whose template lacks the canary's parameters: refused before any write.
    let plain = World::launched().await;
    let r = plain.release("two", &[("INPUT_STRATEGY", "staged"), ("INPUT_TEMPLATE", "")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not declare CandidateVersion"), "{}", r.stderr);
    assert!(r.stderr.contains("has no staging distribution"), "{}", r.stderr);
    assert_eq!(plain.c.lambda_versions(FUNCTION).await.len(), 1, "nothing published");
    assert_eq!(world.c.lambda_versions(FUNCTION).await.len(), 1, "nothing published by the refused runs");
    assert_eq!(world.c.associations(&primary).await, only(arn(1)));
}
