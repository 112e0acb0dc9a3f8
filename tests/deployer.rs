//! The S3-triggered deployer: the real binary as a Lambda process, fed S3 events through a small
//! Lambda Runtime API server, releasing into the emulator.

mod common;

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use common::http::{self, Answer};
use common::{function_source, Emulator, World, BUCKET, FUNCTION, STACK};
use sha2::Digest;

const PREFIX: &str = "my releases/";
const KEY: &str = "my releases/edge-fn.zip";
/// The key as S3 writes it into events: URL-encoded, spaces as `+`.
const KEY_IN_EVENT: &str = "my+releases/edge-fn.zip";

/// The Runtime API's side of each invocation: which endpoint the function called, and the body.
#[derive(Debug)]
struct Outcome {
    kind: &'static str,
    body: String,
}

/// A Lambda Runtime API (2018-06-01) on loopback: hands out the queued events one by one, records
/// each response or error, and holds `next` open once the queue is empty.
struct RuntimeApi {
    address: String,
    outcomes: Receiver<Outcome>,
}

impl RuntimeApi {
    fn start(events: Vec<String>) -> RuntimeApi {
        let queue = Mutex::new(events.into_iter().collect::<VecDeque<_>>());
        let served = AtomicUsize::new(0);
        let (tx, outcomes) = channel();
        let url = http::serve(move |request| {
            if request.path.ends_with("/invocation/next") {
                // No more events: hold the call, as the real service does between invocations.
                let Some(event) = queue.lock().unwrap().pop_front() else { return Answer::Hold };
                let n = served.fetch_add(1, Ordering::SeqCst) + 1;
                let deadline =
                    (SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 300_000).to_string();
                let id = format!("req-{n}");
                return Answer::ok(
                    &[
                        ("Content-Type", "application/json"),
                        ("Lambda-Runtime-Aws-Request-Id", &id),
                        ("Lambda-Runtime-Deadline-Ms", &deadline),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:deployer",
                        ),
                        ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                    ],
                    event,
                );
            }
            let kind = if request.path.ends_with("/response") {
                "response"
            } else if request.path.ends_with("/error") {
                "error"
            } else {
                "other"
            };
            tx.send(Outcome { kind, body: request.body.clone() }).unwrap();
            Answer::Respond {
                status: 202,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: b"{}".to_vec(),
            }
        });
        RuntimeApi { address: url.trim_start_matches("http://").to_owned(), outcomes }
    }

    fn next_outcome(&self) -> Outcome {
        self.outcomes.recv_timeout(Duration::from_secs(60)).expect("the function answered the invocation")
    }
}

/// An S3 ObjectCreated event in the shape AWS documents, for one object version.
fn s3_event(encoded_key: &str, version_id: &str) -> String {
    s3_records(&[(encoded_key, version_id)])
}

/// An S3 event with one ObjectCreated record per object version, in this order.
fn s3_records(objects: &[(&str, &str)]) -> String {
    let records: Vec<serde_json::Value> = objects.iter().map(|(key, version)| record(key, version)).collect();
    serde_json::json!({ "Records": records }).to_string()
}

fn record(encoded_key: &str, version_id: &str) -> serde_json::Value {
    record_of("ObjectCreated:Put", BUCKET, encoded_key, version_id)
}

fn record_of(event: &str, bucket: &str, encoded_key: &str, version_id: &str) -> serde_json::Value {
    serde_json::json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-25T12:00:00.000Z",
            "eventName": event,
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "release-on-zip",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": encoded_key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "versionId": version_id, "sequencer": "0055AED6DCD90281E5"}
            }
    })
}

/// The binary started as the Lambda runtime starts a provided.al2023 function.
/// The deployer, fed `events` one invocation each, into `stack` with `more` in its environment: what
/// it answered to each.
fn invoke(emu: &Emulator, events: Vec<String>, stack: &str, more: &[(&str, &str)]) -> Vec<Outcome> {
    let n = events.len();
    let api = RuntimeApi::start(events);
    let mut deployer = start_deployer(emu, &api, stack, more);
    let outcomes = (0..n).map(|_| api.next_outcome()).collect();
    deployer.kill().unwrap();
    let _ = deployer.wait();
    outcomes
}

fn start_deployer(emu: &Emulator, api: &RuntimeApi, stack: &str, more: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lambda-edge-deploy"))
        .env_clear()
        .envs(emu.env())
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "deployer"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/deployer"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test"),
            ("INPUT_STACK_NAME", stack),
            ("INPUT_ARTIFACT_BUCKET", BUCKET),
            ("INPUT_ARTIFACT_PREFIX", PREFIX),
        ])
        .envs(more.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// A deterministic zip of the example function with a marker, and its CodeSha256.
fn zip_of(marker: &str) -> (Vec<u8>, String) {
    let src = function_source(marker);
    let package = lambda_edge_deploy::package::package(src.path(), &Default::default()).unwrap();
    let bytes = std::fs::read(&package.path).unwrap();
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
    (bytes, sha)
}

async fn put(c: &common::Clients, bytes: Vec<u8>) -> String {
    let out = c.s3.put_object().bucket(BUCKET).key(KEY).body(ByteStream::from(bytes)).send().await.unwrap();
    out.version_id().unwrap().to_owned()
}

/// Launches the example with the prefix, as the action would.
async fn launch(world: &World) -> common::Run {
    world.c.versioned_bucket(BUCKET).await;
    let r = world.run(&[("INPUT_ARTIFACT_PREFIX", PREFIX)]);
    assert_eq!(r.code, 0);
    r
}

#[tokio::test]
async fn an_s3_event_releases_exactly_its_object_version_through_the_runtime_api() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    launch(&world).await;
    let (zip_a, sha_a) = zip_of("a");
    let version_a = put(c, zip_a).await;

    // The key as S3 writes it into events: URL-encoded, spaces as `+`.
    let [outcome]: [Outcome; 1] =
        invoke(emu, vec![s3_event("my+releases/edge-fn.zip", &version_a)], STACK, &[]).try_into().unwrap();
    assert_eq!(outcome.kind, "response", "{}", outcome.body);

    let version_arn = c.stack_parameter(STACK, "LambdaVersion").await;
    let published = c.lambda.get_function_configuration().function_name(&version_arn).send().await.unwrap();
    assert_eq!(published.code_sha256(), Some(sha_a.as_str()), "released from the event's object version");
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, version_a);
    let (status, arns) = c.distribution(&c.only_distribution_id().await).await;
    assert_eq!((status.as_str(), arns), ("Deployed", vec![version_arn.clone()]));
    let response: serde_json::Value = serde_json::from_str(&outcome.body).unwrap();
    assert_eq!(response["released"][0]["version-arn"], version_arn.as_str());
    assert_eq!(response["released"][0]["s3-version-id"], version_a.as_str());
}

// Fails without the ordering guard: S3 delivers events in no guaranteed order and Lambda retries
// them, so the older upload, released last, re-pointed the site at older code.
#[tokio::test]
async fn an_upload_replaced_by_a_newer_one_is_skipped_whatever_the_order_of_events() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    launch(&world).await;
    let (zip_a, _) = zip_of("a");
    let (zip_b, sha_b) = zip_of("b");
    let version_a = put(c, zip_a).await;
    let version_b = put(c, zip_b).await;

    // The newer record first, then the older one (a delayed or retried delivery).
    let [outcome]: [Outcome; 1] =
        invoke(emu, vec![s3_records(&[(KEY_IN_EVENT, &version_b), (KEY_IN_EVENT, &version_a)])], STACK, &[])
            .try_into()
            .unwrap();
    assert_eq!(outcome.kind, "response", "{}", outcome.body);

    let version_arn = c.stack_parameter(STACK, "LambdaVersion").await;
    let live = c.lambda.get_function_configuration().function_name(&version_arn).send().await.unwrap();
    assert_eq!(live.code_sha256(), Some(sha_b.as_str()), "the site runs the newest upload");
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, version_b);
    let response: serde_json::Value = serde_json::from_str(&outcome.body).unwrap();
    assert_eq!(response["released"].as_array().unwrap().len(), 1, "{response}");
    assert_eq!(response["released"][0]["s3-version-id"], version_b.as_str());
}

// Fails without the check at the edge in the deployer: `check-url` was ignored, silently.
#[tokio::test]
async fn the_deployer_checks_the_site_at_the_edge_as_the_action_does() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    launch(&world).await;
    let edge = emu.edge(&c.only_distribution_id().await);
    let (zip, _) = zip_of("checked");
    let version = put(c, zip).await;

    let page = format!("{edge}/index.html");
    let check = [
        ("INPUT_CHECK_URL", page.as_str()),
        ("INPUT_CHECK_HEADER", "x-edge-release: ^checked$"),
        ("INPUT_CHECK_TIMEOUT", "10s"),
    ];
    let [outcome]: [Outcome; 1] =
        invoke(emu, vec![s3_event(KEY_IN_EVENT, &version)], STACK, &check).try_into().unwrap();
    assert_eq!(outcome.kind, "response", "{}", outcome.body);
    let response: serde_json::Value = serde_json::from_str(&outcome.body).unwrap();
    assert_eq!(response["released"][0]["check-result"], "passed", "{response}");
    let seen = common::edge_log(&edge);
    assert!(seen.iter().any(|r| r["release"] == "checked"), "the edge served the new version to the check: {seen:?}");
}

#[tokio::test]
async fn keys_outside_the_prefix_are_skipped_and_unknown_functions_fail_changing_nothing() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    launch(&world).await;
    let (zip, _) = zip_of("x");
    let version = put(c, zip.clone()).await;
    let unknown = c.s3.put_object().bucket(BUCKET).key("my releases/no-such-fn.zip").body(ByteStream::from(zip)).send();
    let unknown = unknown.await.unwrap().version_id().unwrap().to_owned();
    let before = (c.lambda_versions(FUNCTION).await, c.stack_parameter(STACK, "LambdaVersion").await);

    let [skipped, failed]: [Outcome; 2] = invoke(
        emu,
        vec![s3_event("other/edge-fn.zip", &version), s3_event("my+releases/no-such-fn.zip", &unknown)],
        STACK,
        &[],
    )
    .try_into()
    .unwrap();

    assert_eq!(skipped.kind, "response", "{}", skipped.body);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&skipped.body).unwrap()["released"], serde_json::json!([]));
    assert_eq!(failed.kind, "error", "{}", failed.body);
    assert!(failed.body.contains("function no-such-fn does not exist"), "{}", failed.body);
    assert!(failed.body.contains("What to do: The zip's key names the function"), "{}", failed.body);
    let after = (c.lambda_versions(FUNCTION).await, c.stack_parameter(STACK, "LambdaVersion").await);
    assert_eq!(before, after, "nothing changed");
}

#[tokio::test]
async fn a_missing_stack_is_a_clear_error_and_changes_nothing() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    launch(&world).await;
    let (zip, _) = zip_of("y");
    let version = put(c, zip).await;
    let before = c.lambda_versions(FUNCTION).await;

    let [failed]: [Outcome; 1] =
        invoke(emu, vec![s3_event("my+releases/edge-fn.zip", &version)], "no-such-stack", &[]).try_into().unwrap();

    assert_eq!(failed.kind, "error", "{}", failed.body);
    assert!(failed.body.contains("stack no-such-stack does not exist"), "{}", failed.body);
    assert_eq!(c.lambda_versions(FUNCTION).await, before);
    assert_eq!(c.stack_count().await, 1);
}

// Fails without the record filter: a tag put on an old object version re-released old code, a record
// of another bucket rewrote the stack's ArtifactBucket, and S3's test event failed the invocation.
#[tokio::test]
async fn only_uploads_of_the_deployers_own_bucket_are_released() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let launched = launch(&world).await;
    let live = c.stack_parameter(STACK, "LambdaVersion").await;
    let (zip, _) = zip_of("tagged");
    let version = put(c, zip).await;
    c.versioned_bucket("elsewhere").await;
    let other = c.s3.put_object().bucket("elsewhere").key(KEY).body(ByteStream::from(zip_of("other").0)).send();
    let other = other.await.unwrap().version_id().unwrap().to_owned();
    let test_event = serde_json::json!({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-25T12:00:00.000Z",
        "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    });
    let records = serde_json::json!({ "Records": [
        record_of("ObjectTagging:Put", BUCKET, KEY_IN_EVENT, &version),
        record_of("ObjectRemoved:Delete", BUCKET, KEY_IN_EVENT, &version),
        record_of("ObjectCreated:Put", "elsewhere", KEY_IN_EVENT, &other),
    ]});
    let [acknowledged, skipped]: [Outcome; 2] =
        invoke(emu, vec![test_event.to_string(), records.to_string()], STACK, &[]).try_into().unwrap();
    assert_eq!(acknowledged.kind, "response", "{}", acknowledged.body);
    assert!(acknowledged.body.contains("\"test-event\":true"), "{}", acknowledged.body);
    assert_eq!(skipped.kind, "response", "{}", skipped.body);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&skipped.body).unwrap()["released"], serde_json::json!([]));
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, live, "nothing re-pointed");
    assert_eq!(c.stack_parameter(STACK, "ArtifactBucket").await, BUCKET);
    assert_eq!(c.lambda_versions(FUNCTION).await.len(), 1, "nothing published: {}", launched.stderr);
}

// Fails without the refusal at start-up: INPUT_SOURCE packaged a local directory and uploaded it to
// the uploaded key (on S3, another event: another release), and INPUT_ROLLBACK_TO turned every upload
// into a rollback.
#[tokio::test]
async fn action_inputs_that_mean_nothing_for_an_upload_fail_every_invocation() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    launch(&world).await;
    let before = (c.lambda_versions(FUNCTION).await, c.stack_parameter(STACK, "LambdaVersion").await);
    let (zip, _) = zip_of("refused");
    let version = put(c, zip).await;
    let objects = c.object_versions(BUCKET, KEY).await;
    let refused = [("INPUT_SOURCE", "/tmp"), ("INPUT_ROLLBACK_TO", "previous")];
    let [failed]: [Outcome; 1] =
        invoke(emu, vec![s3_event(KEY_IN_EVENT, &version)], STACK, &refused).try_into().unwrap();
    assert_eq!(failed.kind, "error", "{}", failed.body);
    for input in ["source", "rollback-to"] {
        assert!(
            failed.body.contains(&format!("input `{input}`: is not used by the S3-triggered deployer")),
            "{}",
            failed.body
        );
    }
    let after = (c.lambda_versions(FUNCTION).await, c.stack_parameter(STACK, "LambdaVersion").await);
    assert_eq!(before, after, "nothing released");
    assert_eq!(c.object_versions(BUCKET, KEY).await, objects, "nothing uploaded");
}

// Fails if the deployer sets the template's `LambdaVersion` or every version parameter: in a stack
// of several functions it must re-point its own function alone.
#[tokio::test]
async fn in_a_stack_of_several_functions_the_deployer_sets_only_its_functions_parameter() {
    let emu = Emulator::start();
    let c = emu.clients().await;
    c.versioned_bucket(BUCKET).await;
    let (viewer, origin) = (common::multi_source("viewer", "v1"), common::multi_source("origin", "o1"));
    let release = || {
        let mut env = emu.env();
        env.extend(common::multi_inputs(viewer.path(), origin.path(), &[("INPUT_ARTIFACT_PREFIX", PREFIX)]));
        common::run(&env, viewer.path())
    };
    assert_eq!(release().code, 0, "the first launch");
    let key = format!("{PREFIX}{}.zip", common::ORIGIN);
    let event_key = key.replace(' ', "+");
    let (zip, _) = zip_of("deployed");
    let uploaded = c.s3.put_object().bucket(BUCKET).key(&key).body(ByteStream::from(zip)).send().await.unwrap();
    let uploaded = uploaded.version_id().unwrap().to_owned();

    // Until the stack's first update names every function's version, one function alone is refused.
    let [refused]: [Outcome; 1] = invoke(&emu, vec![s3_event(&event_key, &uploaded)], STACK, &[]).try_into().unwrap();
    assert_eq!(refused.kind, "error", "{}", refused.body);
    assert!(refused.body.contains("must release them all"), "{}", refused.body);
    assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "true", "nothing changed");

    assert_eq!(release().code, 0, "the release of both that sets FirstLaunch to false");
    let viewer_version = c.stack_parameter(STACK, "ViewerVersion").await;
    let viewer_object = c.stack_parameter(STACK, "ViewerObjectVersion").await;
    // That release stored the origin's own code again, the newest object: upload after it.
    let (zip, sha) = zip_of("deployed-2");
    let uploaded = c.s3.put_object().bucket(BUCKET).key(&key).body(ByteStream::from(zip)).send().await.unwrap();
    let uploaded = uploaded.version_id().unwrap().to_owned();
    let [outcome]: [Outcome; 1] = invoke(&emu, vec![s3_event(&event_key, &uploaded)], STACK, &[]).try_into().unwrap();
    assert_eq!(outcome.kind, "response", "{}", outcome.body);

    let origin_version = c.stack_parameter(STACK, "OriginVersion").await;
    let published = c.lambda.get_function_configuration().function_name(&origin_version).send().await.unwrap();
    assert_eq!(published.code_sha256(), Some(sha.as_str()), "the origin runs the uploaded zip");
    assert_eq!(c.stack_parameter(STACK, "OriginObjectVersion").await, uploaded);
    assert_eq!(c.stack_parameter(STACK, "ViewerVersion").await, viewer_version, "the viewer keeps its version");
    assert_eq!(c.stack_parameter(STACK, "ViewerObjectVersion").await, viewer_object);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, "", "the template has no such parameter");
    let mut associated = c.associations(&c.only_distribution_id().await).await;
    associated.sort();
    assert_eq!(associated, vec![("origin-request".into(), origin_version), ("viewer-request".into(), viewer_version)]);
}
