//! A stack with CloudFront continuous deployment (examples/staged): a primary and a staging
//! distribution and a policy. Released directly today (`strategy: staged` is issue 17's): the tool
//! must pick the primary, release it, and leave the staging distribution following it; a canary set
//! by hand through `parameters` reaches the staging distribution by the policy's header.

mod common;

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
