//! What a release needs to fit into real pipelines: the stack's Outputs passed on, a CloudFormation
//! service role and notification topics, and a log that programs can read (`log-format: json`).
//! Each is checked in the emulator's state or in the files and streams a runner reads.

mod common;

use common::runner::parse_output_file;
use common::{World, FUNCTION, STACK};

/// A role CloudFormation may assume (or not, with another service).
async fn role(world: &World, name: &str, service: &str) -> String {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let out = world.c.iam.create_role().role_name(name).assume_role_policy_document(trust).send().await.unwrap();
    out.role().unwrap().arn().to_owned()
}

/// An SNS topic, made with the query API (the tests have no SNS client of their own).
fn topic(world: &World, name: &str) -> String {
    let mut response = ureq::post(&world.emu.url)
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261202/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send_form([("Action", "CreateTopic"), ("Name", name), ("Version", "2010-03-31")])
        .expect("CreateTopic");
    let body = response.body_mut().read_to_string().unwrap();
    let start = body.find("<TopicArn>").expect("a TopicArn") + "<TopicArn>".len();
    let end = body.find("</TopicArn>").unwrap();
    body[start..end].to_owned()
}

async fn stack(world: &World) -> aws_sdk_cloudformation::types::Stack {
    let out = world.c.cfn.describe_stacks().stack_name(STACK).send().await.unwrap();
    out.stacks()[0].clone()
}

#[tokio::test]
async fn the_stacks_outputs_are_passed_on_after_a_launch_and_a_release() {
    let world = World::with_bucket().await;
    let output = world.files().join("output");
    std::fs::write(&output, "").unwrap();
    let path = output.display().to_string();
    let launch = world.run(&[("GITHUB_OUTPUT", path.as_str())]);
    assert_eq!(launch.code, 0, "{}", launch.stderr);
    let release = world.release("two", &[("GITHUB_OUTPUT", path.as_str()), ("INPUT_TEMPLATE", "")]);
    assert_eq!(release.code, 0, "{}", release.stderr);

    let expected: Vec<(String, String)> = stack(&world)
        .await
        .outputs()
        .iter()
        .map(|o| (o.output_key().unwrap().to_owned(), o.output_value().unwrap().to_owned()))
        .collect();
    assert!(expected.len() >= 4, "the example's Outputs: {expected:?}");
    let domain = release.out("distribution-domain");
    assert!(expected.contains(&("SiteUrl".to_owned(), format!("https://{domain}"))), "{expected:?}");
    // As the runner parses GITHUB_OUTPUT: the launch's outputs, then the release's; the last wins.
    let parsed = parse_output_file(&std::fs::read_to_string(&output).unwrap()).unwrap();
    for (key, value) in &expected {
        let name = format!("stack-output-{key}");
        let last = parsed.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(last, Some(value.as_str()), "{name} in GITHUB_OUTPUT");
        assert_eq!(release.json()["stack-outputs"][key], value.as_str(), "{key} in the JSON");
        assert!(launch.json()["stack-outputs"][key].as_str().is_some(), "{key} after the launch too");
    }
    assert_eq!(release.json()["stack-outputs"]["DistributionId"], release.out("distribution-id").as_str());

    // A run that fails passes on no stack outputs it did not read after a success.
    let refused = world.release("three", &[("INPUT_TEMPLATE", ""), ("INPUT_PARAMETERS", "Unknown=1")]);
    assert_eq!(refused.code, 2);
    assert_eq!(refused.json()["stack-outputs"], serde_json::json!({}));
}

#[tokio::test]
async fn the_service_role_and_topics_reach_the_stack_and_a_missing_role_is_refused_first() {
    let world = World::with_bucket().await;
    let deploy = role(&world, "cfn-deploy", "cloudformation.amazonaws.com").await;
    let other = role(&world, "cfn-other", "cloudformation.amazonaws.com").await;
    let lambda_only = role(&world, "not-for-cfn", "lambda.amazonaws.com").await;
    let events = topic(&world, "stack-events");

    let launch = world.run(&[("INPUT_ROLE_ARN", deploy.as_str()), ("INPUT_NOTIFICATION_ARNS", events.as_str())]);
    assert_eq!(launch.code, 0, "{}", launch.stderr);
    let st = stack(&world).await;
    assert_eq!((st.role_arn(), st.notification_arns()), (Some(deploy.as_str()), &[events.clone()][..]));

    let release = world.release("two", &[("INPUT_TEMPLATE", ""), ("INPUT_ROLE_ARN", other.as_str())]);
    assert_eq!(release.code, 0, "{}", release.stderr);
    let st = stack(&world).await;
    assert_eq!(st.role_arn(), Some(other.as_str()), "UpdateStack took the role");
    assert_eq!(st.notification_arns(), &[events.clone()][..], "topics not given stay");

    // Refused in preflight, before any upload or publish: a role that does not exist, or one
    // CloudFormation may not assume.
    let versions = world.c.lambda_versions(FUNCTION).await.len();
    let missing = "arn:aws:iam::123456789012:role/no-such-role";
    let r = world.release("three", &[("INPUT_TEMPLATE", ""), ("INPUT_ROLE_ARN", missing)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("the role `role-arn` names ({missing}) does not exist")), "{}", r.stderr);
    let r = world.release("three", &[("INPUT_TEMPLATE", ""), ("INPUT_ROLE_ARN", lambda_only.as_str())]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not trust cloudformation.amazonaws.com"), "{}", r.stderr);
    assert_eq!(world.c.lambda_versions(FUNCTION).await.len(), versions, "nothing published");
    assert_eq!(stack(&world).await.role_arn(), Some(other.as_str()));
}

/// Every line the run wrote on stderr, each parsed as JSON.
fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}\n{stderr}")))
        .collect()
}

#[tokio::test]
async fn with_log_format_json_every_line_on_stderr_is_one_json_object() {
    let world = World::with_bucket().await;
    let json = [("INPUT_LOG_FORMAT", "json")];
    let launch = world.run(&json);
    assert_eq!(launch.code, 0, "{}", launch.stderr);
    let lines = json_lines(&launch.stderr);
    for line in &lines {
        for key in ["time", "level", "phase", "message"] {
            assert!(line.get(key).is_some(), "{key} missing: {line}");
        }
    }
    assert!(lines.iter().any(|l| l["stack-event"]["logical-id"] == "Distribution"), "stack events are fields");
    assert!(lines.iter().any(|l| l["phase"] == "Stack"), "the phase is named");

    let release = world.release("two", &[("INPUT_LOG_FORMAT", "json"), ("INPUT_TEMPLATE", "")]);
    assert_eq!(release.code, 0, "{}", release.stderr);
    let lines = json_lines(&release.stderr);
    let published = lines.iter().find(|l| l.get("version-arn").is_some()).expect("a line with version-arn");
    assert_eq!(published["version-arn"], release.out("version-arn").as_str());

    // A failure (the check at the edge), and an input error: JSON too, with the error's level.
    let url = format!("{}/index.html", world.emu.edge(&release.out("distribution-id")));
    let failed = world.release(
        "three",
        &[
            ("INPUT_LOG_FORMAT", "json"),
            ("INPUT_TEMPLATE", ""),
            ("INPUT_CHECK_URL", url.as_str()),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^never$"),
            ("INPUT_CHECK_TIMEOUT", "2s"),
        ],
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let lines = json_lines(&failed.stderr);
    assert!(lines.iter().any(|l| l["level"] == "error"), "{}", failed.stderr);
    let bad = world.run(&[("INPUT_LOG_FORMAT", "json"), ("INPUT_TIMEOUT", "soon")]);
    assert_eq!(bad.code, 2);
    assert!(json_lines(&bad.stderr).iter().any(|l| l["level"] == "error"), "{}", bad.stderr);
    // Text from AWS or an input never makes a workflow command of a JSON line.
    assert!(!bad.stderr.contains("##["));
}
