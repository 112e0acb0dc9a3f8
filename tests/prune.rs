//! `keep-versions` and `prune-only`: old versions deleted by the rules, checked against the
//! emulator's Lambda versions; replicas (a version a distribution associated until recently) as
//! the emulator's Lambda refuses them.

mod common;

use common::{World, FUNCTION};

/// Sets how long (AWS seconds) a version stays replicated after its last association went.
fn replica_delay(world: &World, aws_seconds: f64) -> serde_json::Value {
    world.emu.configure(serde_json::json!({ "durations": { "replica_delay": aws_seconds } }))
}

async fn numbers(world: &World) -> Vec<u64> {
    let mut n: Vec<u64> = world.c.lambda_versions(FUNCTION).await.iter().map(|v| v.parse().unwrap()).collect();
    n.sort();
    n
}

/// Launches the example (version 1, the stack's own), then releases `more` code changes (2, 3, ...).
async fn released(more: u64) -> World {
    let world = World::launched().await;
    for n in 2..=more + 1 {
        let r = world.release(&format!("release-{n}"), &[]);
        assert_eq!(r.code, 0);
        assert_eq!(r.out("version"), n.to_string());
    }
    world
}

#[tokio::test]
async fn keep_versions_deletes_exactly_the_versions_no_rule_keeps() {
    let world = released(4).await; // versions 1 (the stack's own) to 5
    replica_delay(&world, 0.0);
    world.c.lambda.create_alias().function_name(FUNCTION).name("stable").function_version("2").send().await.unwrap();

    let r = world.release("release-6", &[("INPUT_KEEP_VERSIONS", "1")]);
    assert_eq!(r.code, 0);
    assert_eq!(r.out("version"), "6");
    // 6 live and newest, 5 the rollback target, 2 aliased, 1 the stack's AWS::Lambda::Version.
    assert_eq!(numbers(&world).await, vec![1, 2, 5, 6]);
    assert_eq!((r.out("pruned-versions"), r.out("pending-versions")), ("3,4".to_owned(), String::new()));
    assert!(r.stderr.contains("keeping 1 (the stack's AWS::Lambda::Version owns it)"), "{}", r.stderr);
    assert!(r.stderr.contains("2 (alias stable points to it)"), "{}", r.stderr);

    // Lambda never reuses a number: the next release is 7, whatever was deleted.
    let r = world.release("release-7", &[]);
    assert_eq!(r.out("version"), "7");
    // The stack still deletes its own version: the stack is whole.
    assert_eq!(world.c.stack_status(common::STACK).await, "UPDATE_COMPLETE");
}

#[tokio::test]
async fn a_version_still_replicated_is_pending_until_a_later_prune_only_run() {
    let world = released(2).await; // versions 1 to 3
    let settings = replica_delay(&world, 0.0);
    let scale = settings["time_scale"].as_f64().unwrap();
    // Five real seconds of replicas after the last association goes.
    replica_delay(&world, 5.0 / scale);

    let r = world.release("release-4", &[("INPUT_KEEP_VERSIONS", "1")]);
    assert_eq!(r.code, 0, "pending versions never fail a release");
    // Version 2 ran until release 3, moments ago: CloudFront still replicates it.
    assert_eq!((r.out("pruned-versions"), r.out("pending-versions")), (String::new(), "2".to_owned()));
    assert_eq!(numbers(&world).await, vec![1, 2, 3, 4]);
    assert!(r.stderr.contains("still replicated by CloudFront"), "{}", r.stderr);

    let prune_only =
        [("INPUT_PRUNE_ONLY", "true"), ("INPUT_KEEP_VERSIONS", "1"), ("INPUT_SOURCE", ""), ("INPUT_TEMPLATE", "")];
    let now = world.run(&prune_only);
    assert_eq!((now.code, now.out("pending-versions")), (0, "2".to_owned()));

    std::thread::sleep(std::time::Duration::from_secs(6));
    let later = world.run(&prune_only);
    assert_eq!(later.code, 0);
    assert_eq!((later.out("pruned-versions"), later.out("pending-versions")), ("2".to_owned(), String::new()));
    assert_eq!(numbers(&world).await, vec![1, 3, 4]);
    assert_eq!(later.out("changed"), "false", "pruning releases nothing");
}

#[tokio::test]
async fn a_failed_release_prunes_nothing() {
    let world = released(2).await;
    replica_delay(&world, 0.0);
    let r = world.release(
        "release-4",
        &[("INPUT_KEEP_VERSIONS", "1"), ("INPUT_CHECK_URL", "http://127.0.0.1:9/"), ("INPUT_CHECK_TIMEOUT", "2s")],
    );
    assert_eq!(r.code, 1, "the check fails");
    assert_eq!(numbers(&world).await, vec![1, 2, 3, 4], "nothing deleted");
    assert!(!r.stderr.contains("keep-versions: 1"), "{}", r.stderr);
}

#[tokio::test]
async fn a_dry_run_says_what_it_would_delete_and_keep_and_deletes_nothing() {
    let world = released(3).await; // versions 1 to 4
    replica_delay(&world, 0.0);

    let only = world.run(&[
        ("INPUT_PRUNE_ONLY", "true"),
        ("INPUT_KEEP_VERSIONS", "1"),
        ("INPUT_DRY_RUN", "true"),
        ("INPUT_SOURCE", ""),
        ("INPUT_TEMPLATE", ""),
    ]);
    assert_eq!(only.code, 0);
    assert!(only.stderr.contains("would delete 2; keeping 1 (the stack's AWS::Lambda::Version owns it), 3 (`rollback-to: previous` would choose it), 4 (one of the newest; distribution"), "{}", only.stderr);

    // A release would publish 5: 4 becomes the rollback target, and 3 is no longer kept.
    let release = world.release("release-5", &[("INPUT_KEEP_VERSIONS", "1"), ("INPUT_DRY_RUN", "true")]);
    assert_eq!(release.code, 0);
    assert!(release.stderr.contains("would delete 2, 3;"), "{}", release.stderr);
    assert_eq!(numbers(&world).await, vec![1, 2, 3, 4]);
    assert_eq!(release.out("pruned-versions"), "");
}

#[tokio::test]
async fn prune_only_needs_a_released_stack_and_its_function() {
    let world = World::with_bucket().await;
    let r = world.run(&[
        ("INPUT_PRUNE_ONLY", "true"),
        ("INPUT_KEEP_VERSIONS", "1"),
        ("INPUT_SOURCE", ""),
        ("INPUT_TEMPLATE", ""),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("stack site does not exist: there is nothing to prune"), "{}", r.stderr);
    assert!(r.stderr.contains("function edge-fn does not exist"), "{}", r.stderr);
}

#[tokio::test]
async fn several_functions_are_each_pruned_by_the_same_rules() {
    let emu = common::Emulator::start();
    let c = emu.clients().await;
    c.versioned_bucket(common::BUCKET).await;
    emu.configure(serde_json::json!({ "durations": { "replica_delay": 0 } }));
    let (viewer, origin) = (common::multi_source("viewer", "v1"), common::multi_source("origin", "o1"));
    let release = |marker: &str, more: &[(&str, &str)]| {
        common::set_marker(viewer.path(), marker);
        common::set_marker(origin.path(), marker);
        let mut env = emu.env();
        env.extend(common::multi_inputs(viewer.path(), origin.path(), more));
        common::run(&env, viewer.path())
    };
    for marker in ["1", "2", "3"] {
        assert_eq!(release(marker, &[]).code, 0);
    }
    let r = release("4", &[("INPUT_KEEP_VERSIONS", "1")]);
    assert_eq!(r.code, 0);
    // Each function: 4 live, 3 the rollback target, 1 the stack's own; 2 deleted.
    assert_eq!(r.out("pruned-versions"), format!("{}:2,{}:2", common::VIEWER, common::ORIGIN));
    for name in [common::VIEWER, common::ORIGIN] {
        let mut n = c.lambda_versions(name).await;
        n.sort();
        assert_eq!(n, ["1", "3", "4"], "{name}");
    }
}
