//! Resilience: the real binary through a fault-injecting proxy (tests/emulator/faultproxy.py) in front
//! of the emulator, a run killed between publishing and the stack update, and the emulator's own
//! enforcement of ExpectedBucketOwner. End states are read from the emulator directly, never through
//! the proxy.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;

use common::{function_source, inputs, run, set_marker, Emulator, World, BUCKET, FUNCTION, STACK};

const KEY: &str = "edge-fn.zip";

/// tests/emulator/faultproxy.py in front of the emulator, on a free loopback port. Its stderr is
/// drained into memory as it comes (so it never blocks), for the tests to read.
struct Proxy {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    drain: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(target: &str, args: &[&str]) -> Proxy {
        let python =
            std::env::var("LED_PYTHON").map(PathBuf::from).unwrap_or_else(|_| common::repo().join(".venv/bin/python"));
        let mut child = Command::new(&python)
            .arg(common::repo().join("tests/emulator/faultproxy.py"))
            .args(["--target", target, "--port", "0", "--exit-on-stdin-eof"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the fault proxy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the proxy's address");
        let url = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected proxy output: {line:?}"))
            .to_owned();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        let drain = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Proxy { child, url, log, drain: Some(drain) }
    }

    /// The binary's environment with every endpoint at this proxy.
    fn env(&self, emu: &Emulator) -> Vec<(String, String)> {
        let mut env = emu.env();
        for (k, v) in env.iter_mut() {
            if k == "AWS_ENDPOINT_URL" {
                *v = self.url.clone();
            }
        }
        env
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the proxy's log holds `needle`; false if it does not within `limit`.
    fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log().contains(needle)
    }

    /// Closes the proxy's stdin, so that it prints its counters and exits; returns its whole log.
    fn finish(&mut self) -> String {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("wait for the proxy");
        assert!(status.success(), "the proxy exited with {status}: {}", self.log());
        if let Some(drain) = self.drain.take() {
            drain.join().unwrap();
        }
        self.log()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy's exit line `faultproxy: counters requests=N forwarded=N ...` as a map.
fn counters(log: &str) -> BTreeMap<String, u64> {
    let line = log
        .lines()
        .find_map(|l| l.strip_prefix("faultproxy: counters "))
        .unwrap_or_else(|| panic!("no counters in the proxy's log:\n{log}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
        .collect()
}

/// Clients that reach the emulator through the proxy, with `attempts` attempts per call and short
/// back-off; IAM's too, which the binary reads a role's trust policy with.
async fn clients_via(url: &str, attempts: u32) -> (common::Clients, aws_sdk_iam::Client) {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests"))
        .retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(50)),
        )
        .load()
        .await;
    let clients = common::Clients::from_config(&config);
    let iam = clients.iam.clone();
    (clients, iam)
}

/// What the SDK made of a failed call: `STATUS CODE` for an error response, `no response (...)`
/// when the connection closed without one.
fn seen<E: ProvideErrorMetadata + std::fmt::Debug>(e: &SdkError<E, Response>) -> String {
    match e {
        SdkError::ServiceError(s) => format!("{} {}", s.raw().status().as_u16(), s.err().code().unwrap_or("-")),
        SdkError::DispatchFailure(d) => format!("no response (io: {}, other: {:?})", d.is_io(), d.as_other()),
        other => format!("{other:?}"),
    }
}

/// The outcome of one SDK call: `ok`, or what `seen` says.
macro_rules! outcome {
    ($call:expr) => {
        match $call.send().await {
            Ok(_) => "ok".to_string(),
            Err(e) => seen(&e),
        }
    };
}

/// One cheap read per service, in a fixed order.
async fn one_call_each((c, iam): &(common::Clients, aws_sdk_iam::Client), service: &str) -> String {
    match service {
        "s3" => outcome!(c.s3.list_buckets()),
        "lambda" => outcome!(c.lambda.list_functions()),
        "cloudformation" => outcome!(c.cfn.list_stacks()),
        "cloudfront" => outcome!(c.cf.list_distributions()),
        "iam" => outcome!(iam.list_roles()),
        _ => unreachable!(),
    }
}

const SERVICES: [&str; 5] = ["s3", "lambda", "cloudformation", "cloudfront", "iam"];

#[tokio::test]
async fn every_fault_kind_is_an_error_the_sdk_retries() {
    let emu = Emulator::start();

    // Every request faulted, one attempt per call: what each fault looks like to the SDK. The kinds
    // rotate unavailable, throttled, closed, so each service meets each kind once.
    let mut proxy = Proxy::start(&emu.url, &["--every", "1"]);
    let c = clients_via(&proxy.url, 1).await;
    let mut got = Vec::new();
    for service in SERVICES {
        for _ in 0..3 {
            got.push(format!("{service}: {}", one_call_each(&c, service).await));
        }
    }
    let closed = "no response (io: false, other: Some(TransientError))";
    let expected: Vec<String> = [
        ("s3", ["503 ServiceUnavailable", "503 SlowDown", closed]),
        ("lambda", ["503 ServiceException", "429 TooManyRequestsException", closed]),
        ("cloudformation", ["503 ServiceUnavailable", "400 Throttling", closed]),
        ("cloudfront", ["503 ServiceUnavailable", "400 Throttling", closed]),
        ("iam", ["503 ServiceUnavailable", "400 Throttling", closed]),
    ]
    .iter()
    .flat_map(|(s, kinds)| kinds.iter().map(move |k| format!("{s}: {k}")))
    .collect();
    assert_eq!(got, expected);
    let n = counters(&proxy.finish());
    assert_eq!((n["unavailable"], n["throttled"], n["closed"], n["forwarded"]), (5, 5, 5, 0), "{n:?}");

    // Every second request faulted, two attempts per call: each call meets one fault and succeeds
    // only if the SDK retries that kind of fault.
    let mut proxy = Proxy::start(&emu.url, &["--every", "2"]);
    let c = clients_via(&proxy.url, 2).await;
    assert_eq!(one_call_each(&c, "s3").await, "ok"); // request 1: never faulted
    for service in SERVICES {
        for kind in ["unavailable", "throttled", "closed"] {
            assert_eq!(one_call_each(&c, service).await, "ok", "{service} after a fault of kind {kind}");
        }
    }
    let n = counters(&proxy.finish());
    assert_eq!((n["unavailable"], n["throttled"], n["closed"], n["forwarded"]), (5, 5, 5, 16), "{n:?}");
}

/// The state a release must leave, read from the emulator: the stack and the distribution on the
/// released version, which holds exactly the uploaded object version.
async fn assert_released(c: &common::Clients, r: &common::Run) {
    let version_arn = r.out("version-arn");
    assert!(version_arn.ends_with(&format!(":function:{FUNCTION}:{}", r.out("version"))), "{version_arn}");
    let (status, arns) = c.distribution(&c.only_distribution_id().await).await;
    assert_eq!(status, "Deployed");
    assert_eq!(arns, vec![version_arn.clone()]);
    assert_eq!(c.object_versions(BUCKET, KEY).await[0], r.out("s3-version-id"), "the newest object version");
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, r.out("s3-version-id"));
    let v = c.lambda.get_function_configuration().function_name(&version_arn).send().await.unwrap();
    assert_eq!(v.code_sha256(), Some(r.out("code-sha256").as_str()));
}

#[tokio::test]
async fn a_release_through_a_faulty_network_ends_as_without_faults() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let mut proxy = Proxy::start(&emu.url, &["--every", "3"]);
    let src = function_source("one");
    let mut env = proxy.env(emu);
    env.extend(inputs(src.path(), &[]));

    let first = run(&env, src.path());
    assert_eq!(first.code, 0, "first launch through the faulty proxy failed");
    assert_eq!(c.stack_status(STACK).await, "CREATE_COMPLETE");
    assert_eq!(c.lambda_versions(FUNCTION).await.len(), 1);
    assert_eq!(first.out("first-launch"), "true");
    assert_released(c, &first).await;

    set_marker(src.path(), "two");
    let r = run(&env, src.path());
    assert_eq!(r.code, 0, "release through the faulty proxy failed");
    let versions = c.lambda_versions(FUNCTION).await;
    assert_eq!(versions.len(), 2, "exactly one new version: {versions:?}");
    assert!(versions.contains(&r.out("version")));
    assert_ne!(r.out("version-arn"), first.out("version-arn"));
    assert_eq!(c.stack_status(STACK).await, "UPDATE_COMPLETE");
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"));
    assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "false");
    assert_eq!(c.object_versions(BUCKET, KEY).await.len(), 2);
    assert_released(c, &r).await;
    assert_eq!((r.out("changed").as_str(), r.out("stack-status").as_str()), ("true", "UPDATE_COMPLETE"));

    // The faults really happened, of every kind.
    let log = proxy.finish();
    eprintln!("--- proxy ---\n{log}");
    let n = counters(&log);
    for kind in ["unavailable", "throttled", "closed"] {
        assert!(n[kind] >= 2, "too few faults of kind {kind}: {n:?}");
    }
    assert_eq!(n["requests"], n["forwarded"] + n["unavailable"] + n["throttled"] + n["closed"], "{n:?}");
}

#[tokio::test]
async fn a_run_killed_after_publishing_is_finished_by_the_next_without_a_duplicate_version() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    let mut direct = emu.env();
    direct.extend(inputs(src.path(), &[]));
    let first = run(&direct, src.path());
    assert_eq!(first.code, 0, "first launch failed");
    let old_arn = first.out("version-arn");
    let old_parameter = c.stack_parameter(STACK, "LambdaVersion").await;

    // The release goes through a proxy that holds UpdateStack; it is killed once it has published.
    let proxy = Proxy::start(&emu.url, &["--every", "0", "--hold", "UpdateStack=30"]);
    set_marker(src.path(), "two");
    let mut env = proxy.env(emu);
    env.extend(inputs(src.path(), &[]));
    let (mut child, lines) = common::spawn(&env, src.path());
    let mut log = String::new();
    let published = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("no `published version` in the log ({e}):\n{log}"));
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("published version ").nth(1) {
            // `published version N (ARN)`
            let arn = rest.split_once('(').and_then(|(_, a)| a.strip_suffix(')')).unwrap_or_else(|| panic!("{line}"));
            break arn.to_owned();
        }
    };
    assert!(
        proxy.wait_for_log("holding UpdateStack", Duration::from_secs(30)),
        "the run never reached UpdateStack:\n{log}\n--- proxy ---\n{}",
        proxy.log()
    );
    child.kill().expect("kill the run");
    child.wait().unwrap();
    assert!(
        proxy.wait_for_log("dropped UpdateStack", Duration::from_secs(10)),
        "the proxy did not drop the killed run's UpdateStack:\n{}",
        proxy.log()
    );
    eprintln!("--- killed run ---\n{log}--- proxy ---\n{}", proxy.log());

    let versions = c.lambda_versions(FUNCTION).await;
    assert_eq!(versions.len(), 2, "the killed run published one version: {versions:?}");
    assert!(published.ends_with(&format!(":{}", versions.iter().max_by_key(|v| v.parse::<u64>().unwrap()).unwrap())));
    assert_eq!(c.stack_status(STACK).await, "CREATE_COMPLETE", "the stack was not updated");
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, old_parameter);
    let (_, arns) = c.distribution(&c.only_distribution_id().await).await;
    assert_eq!(arns, vec![old_arn.clone()]);

    // The next run, straight to the emulator, finishes the release with the published version.
    let r = run(&direct, src.path());
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("reusing version"), "the published version was not reused: {}", r.stderr);
    assert_eq!(c.lambda_versions(FUNCTION).await, versions, "no further version");
    assert_eq!(r.out("version-arn"), published);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, published);
    assert_eq!(c.stack_status(STACK).await, "UPDATE_COMPLETE");
    assert_released(c, &r).await;
    assert_eq!(r.out("changed"), "true");
}

#[tokio::test]
async fn expected_bucket_owner_is_enforced_by_the_emulator() {
    let world = World::start().await;
    let (_emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;

    let err =
        c.s3.get_bucket_versioning().bucket(BUCKET).expected_bucket_owner("111111111111").send().await.unwrap_err();
    assert_eq!(seen(&err), "403 AccessDenied");
    let ok = c.s3.get_bucket_versioning().bucket(BUCKET).expected_bucket_owner("123456789012").send().await.unwrap();
    assert_eq!(ok.status().map(|s| s.as_str()), Some("Enabled"));

    // Object requests too, and a refused write writes nothing.
    let err =
        c.s3.put_object()
            .bucket(BUCKET)
            .key(KEY)
            .body(b"zip".to_vec().into())
            .expected_bucket_owner("111111111111")
            .send()
            .await
            .unwrap_err();
    assert_eq!(seen(&err), "403 AccessDenied");
    assert!(c.object_versions(BUCKET, KEY).await.is_empty());
    c.s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(b"zip".to_vec().into())
        .expected_bucket_owner("123456789012")
        .send()
        .await
        .unwrap();
    assert_eq!(c.object_versions(BUCKET, KEY).await.len(), 1);
}

// Fails without per-attempt and per-operation timeouts: an endpoint that accepts the connection and
// never answers held the run, silently, for its whole `timeout` (90 minutes by default).
#[tokio::test]
async fn an_endpoint_that_never_answers_ends_the_run_with_the_call_named() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let proxy = Proxy::start(&emu.url, &["--every", "0", "--hold", "DescribeStacks=600"]);
    let src = function_source("one");
    let mut env = proxy.env(emu);
    env.extend(inputs(src.path(), &[]));
    let started = Instant::now();
    let r = run(&env, src.path());
    let took = started.elapsed();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(took < Duration::from_secs(120), "the run took {took:?}");
    assert!(r.stderr.contains("DescribeStacks site failed: no answer in time"), "{}", r.stderr);
    assert!(r.stderr.contains("trying again (attempt 2 of 6)"), "the retries are logged: {}", r.stderr);
    assert!(r.stderr.contains("AWS never answered"), "{}", r.stderr);
    assert_eq!(c.stack_count().await, 0, "nothing was created");
}
