//! `mode: plan` and `mode: execute` (a change set reviewed, then executed as reviewed) and the drift
//! guard, against the emulator's change sets and distributions.

mod common;

use aws_sdk_cloudfront::types::{LambdaFunctionAssociation, LambdaFunctionAssociations};
use common::{World, FUNCTION, STACK};

/// A launched example whose stack set the version of a second release (FirstLaunch false).
async fn released() -> World {
    let world = World::launched().await;
    let r = world.release("two", &[]);
    assert_eq!((r.code, r.out("version")), (0, "2".to_owned()));
    world
}

fn arn(n: u32) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}:{n}")
}

const PLAN: (&str, &str) = ("INPUT_MODE", "plan");

fn execute(world: &World, id: &str) -> common::Run {
    world.run(&[("INPUT_MODE", "execute"), ("INPUT_CHANGE_SET_ID", id), ("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", "")])
}

async fn change_sets(world: &World) -> Vec<String> {
    let out = world.c.cfn.list_change_sets().stack_name(STACK).send().await.unwrap();
    out.summaries().iter().filter_map(|s| s.change_set_id().map(str::to_owned)).collect()
}

async fn associated(world: &World) -> Vec<String> {
    world.c.distribution(&world.c.only_distribution_id().await).await.1
}

#[tokio::test]
async fn a_plan_changes_nothing_that_serves_and_its_execution_releases_exactly_it() {
    let world = released().await;
    let plan = world.release("three", &[PLAN, ("INPUT_TEMPLATE", "")]);
    assert_eq!(plan.code, 0);
    assert_eq!(plan.out("has-changes"), "true");
    let id = plan.out("change-set-id");
    assert!(id.contains(":changeSet/"), "{id}");

    // The new version is published, but the stack and the distribution still run version 2.
    assert!(world.c.lambda_versions(FUNCTION).await.contains(&"3".to_owned()));
    assert_eq!(world.c.stack_parameter(STACK, "LambdaVersion").await, arn(2));
    assert_eq!(associated(&world).await, vec![arn(2)]);
    assert_eq!(world.c.stack_status(STACK).await, "UPDATE_COMPLETE");
    let set = world.c.cfn.describe_change_set().change_set_name(&id).send().await.unwrap();
    let planned = set.parameters().iter().find(|p| p.parameter_key() == Some("LambdaVersion")).unwrap();
    assert_eq!(planned.parameter_value(), Some(arn(3).as_str()));
    let md = plan.out("changes-markdown");
    assert!(md.contains(&format!("| `LambdaVersion` | `{}` | `{}` |", arn(2), arn(3))), "{md}");
    assert!(md.contains("| `Distribution` | `AWS::CloudFront::Distribution` | Modify |"), "{md}");

    let run = execute(&world, &id);
    assert_eq!(run.code, 0);
    assert_eq!(run.out("version-arn"), arn(3));
    assert_eq!(world.c.stack_parameter(STACK, "LambdaVersion").await, arn(3));
    assert_eq!(associated(&world).await, vec![arn(3)]);
    assert_eq!(world.c.lambda_versions(FUNCTION).await.len(), 3, "nothing published by the execute");

    // By its name this time (what a workflow passes between jobs: no account id to mask).
    let again = execute(&world, &plan.out("change-set-name"));
    assert_eq!(again.code, 2, "a change set runs once");
    assert!(again.stderr.contains("was executed already"), "{}", again.stderr);
    assert_eq!(world.c.stack_parameter(STACK, "LambdaVersion").await, arn(3));
}

#[tokio::test]
async fn a_plan_with_nothing_to_change_leaves_no_change_set() {
    let world = released().await;
    // The same code, without and with the template the stack already has.
    for more in [vec![PLAN, ("INPUT_TEMPLATE", "")], vec![PLAN]] {
        let r = world.run(&more);
        assert_eq!(r.code, 0);
        assert_eq!((r.out("has-changes"), r.out("change-set-id")), ("false".to_owned(), String::new()), "{more:?}");
        assert!(change_sets(&world).await.is_empty(), "{more:?}: a change set was left behind");
    }
}

#[tokio::test]
async fn a_stale_change_set_is_refused_and_changes_nothing() {
    let world = released().await;
    let plan = world.release("three", &[PLAN, ("INPUT_TEMPLATE", "")]);
    let id = plan.out("change-set-id");
    // A release after the plan: the plan no longer describes the stack.
    let release = world.release("four", &[]);
    assert_eq!(release.code, 0);
    let r = execute(&world, &id);
    assert_eq!(r.code, 2);
    // The release's UpdateStack made it OBSOLETE, as CloudFormation does.
    assert!(r.stderr.contains("is stale: stack site changed after it was planned"), "{}", r.stderr);
    assert_eq!(world.c.stack_parameter(STACK, "LambdaVersion").await, release.out("version-arn"));
}

#[tokio::test]
async fn a_plan_that_removes_the_distribution_is_flagged() {
    let world = released().await;
    let template = std::fs::read_to_string(common::repo().join("examples/template.yaml")).unwrap();
    let renamed = template
        .replace("  Distribution:\n", "  SiteDistribution:\n")
        .replace("!Ref Distribution", "!Ref SiteDistribution")
        .replace("!GetAtt Distribution.", "!GetAtt SiteDistribution.");
    assert_ne!(renamed, template);
    let path = world.files().join("renamed.yaml");
    std::fs::write(&path, renamed).unwrap();
    let r = world.run(&[PLAN, ("INPUT_TEMPLATE", path.to_str().unwrap())]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("removes Distribution (AWS::CloudFront::Distribution)"), "{}", r.stderr);
    assert!(r.out("changes-markdown").contains("| `Distribution` | `AWS::CloudFront::Distribution` | Remove |"));
}

/// Points the distribution's associations at `arn` with UpdateDistribution, as the console would.
async fn repoint_outside_the_stack(world: &World, arn: &str) {
    let id = world.c.only_distribution_id().await;
    let out = world.c.cf.get_distribution_config().id(&id).send().await.unwrap();
    let etag = out.e_tag().unwrap().to_owned();
    let mut config = out.distribution_config().unwrap().clone();
    let mut behavior = config.default_cache_behavior().unwrap().clone();
    let items: Vec<LambdaFunctionAssociation> = behavior
        .lambda_function_associations()
        .unwrap()
        .items()
        .iter()
        .map(|a| {
            LambdaFunctionAssociation::builder()
                .lambda_function_arn(arn)
                .event_type(a.event_type().clone())
                .include_body(a.include_body().unwrap_or(false))
                .build()
                .unwrap()
        })
        .collect();
    behavior.lambda_function_associations = Some(
        LambdaFunctionAssociations::builder().quantity(items.len() as i32).set_items(Some(items)).build().unwrap(),
    );
    config.default_cache_behavior = Some(behavior);
    world.c.cf.update_distribution().id(&id).if_match(etag).distribution_config(config).send().await.unwrap();
}

#[tokio::test]
async fn a_distribution_changed_outside_the_stack_stops_a_release_unless_drift_is_allowed() {
    let world = released().await;
    repoint_outside_the_stack(&world, &arn(1)).await;

    for more in [vec![], vec![PLAN, ("INPUT_TEMPLATE", "")]] {
        let r = world.release("three", &more);
        assert_eq!(r.code, 2, "{more:?}");
        assert!(
            r.stderr.contains(&format!(
                "runs {} at origin-request (default), but stack site last set edge-fn to {}",
                arn(1),
                arn(2)
            )),
            "{}",
            r.stderr
        );
        assert_eq!(world.c.lambda_versions(FUNCTION).await.len(), 2, "nothing published");
        assert_eq!(associated(&world).await, vec![arn(1)], "the distribution as it was");
    }

    let r = world.release("three", &[("INPUT_ALLOW_DRIFT", "true")]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("allow-drift: true"), "{}", r.stderr);
    assert_eq!(associated(&world).await, vec![arn(3)]);
}

#[tokio::test]
async fn a_first_launch_is_planned_as_a_create_change_set_and_executed() {
    let world = World::with_bucket().await;
    let plan = world.run(&[PLAN]);
    assert_eq!(plan.code, 0);
    assert_eq!(plan.out("has-changes"), "true");
    assert_eq!(world.c.stack_status(STACK).await, "REVIEW_IN_PROGRESS", "no resource created yet");
    assert!(world.c.lambda.get_function().function_name(FUNCTION).send().await.is_err(), "no function yet");

    let run = execute(&world, &plan.out("change-set-id"));
    assert_eq!(run.code, 0);
    assert_eq!(world.c.stack_status(STACK).await, "CREATE_COMPLETE");
    assert_eq!((run.out("first-launch"), run.out("version-arn")), ("true".to_owned(), arn(1)));
    assert_eq!(associated(&world).await, vec![arn(1)]);
}

#[tokio::test]
async fn an_execute_naming_another_function_changes_nothing() {
    let world = released().await;
    let plan = world.release("three", &[PLAN, ("INPUT_TEMPLATE", "")]);
    let id = plan.out("change-set-id");
    let r = world.run(&[
        ("INPUT_MODE", "execute"),
        ("INPUT_CHANGE_SET_ID", id.as_str()),
        ("INPUT_SOURCE", ""),
        ("INPUT_TEMPLATE", ""),
        ("INPUT_FUNCTION_NAME", "no-such-fn"),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("function(s) no-such-fn do not exist, but the change set updates stack site"),
        "{}",
        r.stderr
    );
    assert_eq!(world.c.stack_parameter(STACK, "LambdaVersion").await, arn(2));
    let set = world.c.cfn.describe_change_set().change_set_name(&id).send().await.unwrap();
    assert_eq!(set.execution_status().map(|s| s.as_str()), Some("AVAILABLE"), "still there to execute");
}
