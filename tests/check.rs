//! The check at the edge after a release. The emulated distribution's domain does not resolve, so
//! `check-url` is a full URL to a small HTTP server started here, standing in for the edge.

mod common;

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::http::{self, Answer};
use common::{edge_get, edge_log, inputs, run, set_marker, World, BUCKET, FUNCTION, STACK};

/// How the stand-in edge answers.
#[derive(Clone, Copy)]
enum Edge {
    /// The new release's header from the `n`th request on, the old one before.
    NewFrom(usize),
    /// Accepts the connection and never answers.
    Silent,
}

/// Starts the stand-in edge; returns its base URL and the count of requests it has seen.
fn edge(mode: Edge) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let url = http::serve(move |request| {
        seen.store(request.n, Ordering::SeqCst);
        let release = match mode {
            Edge::Silent => return Answer::Hold,
            Edge::NewFrom(from) if request.n >= from => "release-2",
            Edge::NewFrom(_) => "release-1",
        };
        let headers = [("x-edge-release", release), ("Content-Type", "text/html"), ("Connection", "close")];
        Answer::ok(&headers, format!("<h1>Hello from {release}</h1>"))
    });
    (url, count)
}

/// Launches the example (version 1), then releases a code change with the given check inputs.
async fn release_with(world: &World, check: &[(&str, &str)]) -> (common::Run, common::Run) {
    world.c.versioned_bucket(BUCKET).await;
    let first = world.run(&[]);
    assert_eq!(first.code, 0);
    (first, world.release("two", check))
}

#[tokio::test]
async fn the_check_retries_until_the_edge_serves_the_new_code() {
    let world = World::start().await;
    let (_emu, c) = (&world.emu, &world.c);
    let (url, count) = edge(Edge::NewFrom(3));
    let target = format!("{url}/index.html");
    let (_, r) = release_with(
        &world,
        &[
            ("INPUT_CHECK_URL", &target),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^release-2$"),
            ("INPUT_CHECK_BODY", "Hello from release-2"),
            ("INPUT_CHECK_TIMEOUT", "30s"),
        ],
    )
    .await;
    assert_eq!(r.code, 0);
    assert_eq!(r.out("check-result"), "passed");
    assert_eq!(count.load(Ordering::SeqCst), 3, "passed on the third request, not before");
    assert!(r.stderr.contains("check passed") && r.stderr.contains("after 3 tries"), "{}", r.stderr);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"));
}

#[tokio::test]
async fn a_failing_check_exits_1_with_what_it_saw() {
    let world = World::start().await;
    let (_emu, c) = (&world.emu, &world.c);
    let (url, _) = edge(Edge::NewFrom(usize::MAX));
    let (_, r) = release_with(
        &world,
        &[
            ("INPUT_CHECK_URL", &url),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^release-2$"),
            ("INPUT_CHECK_TIMEOUT", "3s"),
        ],
    )
    .await;
    assert_eq!(r.code, 1);
    assert_eq!(r.out("check-result"), "failed");
    assert!(r.stderr.contains("the check at the edge failed"), "{}", r.stderr);
    assert!(r.stderr.contains("x-edge-release: release-1"), "the header seen: {}", r.stderr);
    assert!(r.stderr.contains("Hello from release-1"), "the body seen: {}", r.stderr);
    // Without rollback-on-failure the new version stays.
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"));
}

/// The paths of every invalidation of the distribution, oldest first.
async fn invalidations(c: &common::Clients, distribution: &str) -> Vec<Vec<String>> {
    let list = c.cf.list_invalidations().distribution_id(distribution).send().await.unwrap();
    let mut out = Vec::new();
    let mut items: Vec<_> = list.invalidation_list().map(|l| l.items().to_vec()).unwrap_or_default();
    items.sort_by_key(|i| i.create_time().secs());
    for item in items {
        let inv = c.cf.get_invalidation().distribution_id(distribution).id(item.id()).send().await.unwrap();
        out.push(inv.invalidation().unwrap().invalidation_batch().unwrap().paths().unwrap().items().to_vec());
    }
    out
}

// Fails without a fresh ClientRequestToken per stack operation (the rollback's UpdateStack reused the
// release's: TokenAlreadyExistsException) and a fresh CallerReference per invalidation (the second
// `/*` came back as the first, and nothing cached from the failed version was cleared).
#[tokio::test]
async fn a_failing_check_with_rollback_on_failure_restores_the_previous_version() {
    let world = World::start().await;
    let (_emu, c) = (&world.emu, &world.c);
    let (url, _) = edge(Edge::NewFrom(usize::MAX));
    let (first, r) = release_with(
        &world,
        &[
            ("INPUT_CHECK_URL", &url),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^release-2$"),
            ("INPUT_CHECK_TIMEOUT", "3s"),
            ("INPUT_ROLLBACK_ON_FAILURE", "true"),
            ("INPUT_INVALIDATION_PATHS", "/*"),
        ],
    )
    .await;
    let id = c.only_distribution_id().await;
    assert_eq!(
        invalidations(c, &id).await,
        vec![vec!["/*".to_string()]; 2],
        "one after the release, one after the rollback"
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.out("check-result"), "rolled-back");
    let previous = first.out("version-arn");
    assert!(r.stderr.contains("was rolled back") && r.stderr.contains(&previous), "{}", r.stderr);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, previous);
    let (status, arns) = c.distribution(&c.only_distribution_id().await).await;
    assert_eq!((status.as_str(), arns), ("Deployed", vec![previous.clone()]));
    assert_eq!(c.lambda_versions(FUNCTION).await.len(), 2, "the failed version stays published");
    // Every output describes the version the site runs again, not a mix of the two.
    assert_eq!(r.out("version-arn"), previous);
    assert_eq!(r.out("code-sha256"), first.out("code-sha256"));
    assert_eq!(r.out("s3-version-id"), first.out("s3-version-id"));
}

// Fails without the invalidation of the check's path: the example's cache policy
// (Managed-CachingOptimized) keeps query strings out of the cache key, so the check's cache-busting
// parameter met the answer cached from release one, the check failed, and the good release was
// rolled back.
#[tokio::test]
async fn a_path_cached_by_cloudfront_is_invalidated_so_the_check_sees_the_new_version() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    assert_eq!(world.run(&[]).code, 0);
    let id = c.only_distribution_id().await;
    let edge = emu.edge(&id);
    let page = format!("{edge}/index.html");
    assert_eq!(edge_get(&page), (200, "one".to_string(), "Miss from cloudfront".to_string()));
    assert_eq!(edge_get(&format!("{page}?fresh=1")).2, "Hit from cloudfront", "the query is not in the cache key");

    set_marker(src.path(), "two");
    let mut env = emu.env();
    env.extend(inputs(
        src.path(),
        &[
            ("INPUT_CHECK_URL", &page),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^two$"),
            ("INPUT_CHECK_TIMEOUT", "10s"),
            ("INPUT_ROLLBACK_ON_FAILURE", "true"),
        ],
    ));
    let r = run(&env, src.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.out("check-result"), "passed");
    assert!(r.stderr.contains("by its path alone (Managed-CachingOptimized)"), "{}", r.stderr);
    assert_eq!(invalidations(c, &id).await, vec![vec!["/index.html".to_string()]]);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"), "not rolled back");
    let last = edge_log(&edge).pop().unwrap();
    assert_eq!((last["cache"].as_str(), last["release"].as_str()), (Some("Miss"), Some("two")), "{last}");
}

// Fails without the comparison of what the release changed: rollback-on-failure re-pointed the
// stack at the version it already ran and reported `rolled-back` while the parameter change stayed.
#[tokio::test]
async fn rollback_on_failure_does_not_claim_to_undo_a_parameter_change() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    let first = world.run(&[]);
    assert_eq!(first.code, 0);
    let (url, _) = edge(Edge::NewFrom(usize::MAX));
    let failing = [
        ("INPUT_CHECK_URL", url.as_str()),
        ("INPUT_CHECK_HEADER", "x-edge-release: ^release-2$"),
        ("INPUT_CHECK_TIMEOUT", "2s"),
        ("INPUT_ROLLBACK_ON_FAILURE", "true"),
    ];

    // The same code, another origin: the version stays, the change is in the stack's parameters.
    let mut more = failing.to_vec();
    more.push(("INPUT_PARAMETERS", "OriginDomainName=origin.example.net"));
    let mut env = emu.env();
    env.extend(inputs(src.path(), &more));
    let r = run(&env, src.path());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.out("check-result"), "failed", "nothing was rolled back");
    assert!(
        r.stderr.contains("has nothing to re-point") && r.stderr.contains("Nothing was rolled back"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("rollback-to:"), "the fix names the way back: {}", r.stderr);
    assert_eq!(c.stack_parameter(STACK, "OriginDomainName").await, "origin.example.net");
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, first.out("version-arn"));

    // New code and another origin: re-pointing the version would leave the new origin in place.
    set_marker(src.path(), "two");
    let mut more = failing.to_vec();
    more.push(("INPUT_PARAMETERS", "OriginDomainName=origin.example.com"));
    let mut env = emu.env();
    env.extend(inputs(src.path(), &more));
    let r = run(&env, src.path());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.out("check-result"), "failed");
    assert!(r.stderr.contains("also changed parameter OriginDomainName: nothing was rolled back"), "{}", r.stderr);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"), "the new version stays");
    assert_eq!(c.stack_parameter(STACK, "OriginDomainName").await, "origin.example.com");
}

#[tokio::test]
async fn connection_refused_and_no_answer_are_said_plainly() {
    let world = World::start().await;
    let (_emu, _c) = (&world.emu, &world.c);
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let (_, r) = release_with(&world, &[("INPUT_CHECK_URL", &refused), ("INPUT_CHECK_TIMEOUT", "2s")]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("could not connect"), "{}", r.stderr);

    let world = World::start().await;
    let (_emu, _c) = (&world.emu, &world.c);
    let (silent, _) = edge(Edge::Silent);
    let (_, r) = release_with(&world, &[("INPUT_CHECK_URL", &silent), ("INPUT_CHECK_TIMEOUT", "2s")]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no answer within"), "{}", r.stderr);
}

#[tokio::test]
async fn a_malformed_check_header_is_an_input_error_before_any_write() {
    let world = World::start().await;
    let (_emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let _src = &world.src;
    let r = world.run(&[("INPUT_CHECK_URL", "/"), ("INPUT_CHECK_HEADER", "x-edge-release ^release-2$")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("input `check-header`") && r.stderr.contains("Name: regex"), "{}", r.stderr);
    assert!(c.object_versions(BUCKET, "edge-fn.zip").await.is_empty());
    assert_eq!(c.stack_count().await, 0);
}
