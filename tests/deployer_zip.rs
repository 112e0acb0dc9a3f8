//! The deployer's Lambda deployment zip as users deploy it: target/lambda/lambda-edge-deploy-deployer.zip,
//! which scripts/build-deployer-zip makes (scripts/test runs it before `cargo test`), unzipped into
//! a read-only task directory, its `bootstrap` started as the provided.al2023 runtime starts it (the
//! Lambda environment, a Lambda Runtime API on loopback), serving one S3 event into the emulator.
//!
//! tests/deployer.rs tests the deployer's behaviour with the debug build; this file tests the
//! artifact: the zip's layout and modes, a binary that needs nothing newer than Amazon Linux 2023's
//! glibc (2.34), and that it starts and serves outside cargo.
//!
//! What this file has beyond tests/common: a minimal Runtime API and S3 event (as tests/deployer.rs
//! has them).

mod common;

use std::collections::VecDeque;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use common::http::{self, Answer};
use common::{function_source, World, BUCKET, STACK};
use sha2::Digest;

const PREFIX: &str = "releases/";
const KEY: &str = "releases/edge-fn.zip";
/// Amazon Linux 2023's glibc, which provided.al2023 runs the bootstrap with.
const GLIBC_MAX: (u32, u32) = (2, 34);

/// The zip that scripts/build-deployer-zip writes (under CARGO_TARGET_DIR when that is set).
fn deployer_zip() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    let target = if target.is_absolute() { target } else { common::repo().join(target) };
    let zip = target.join("lambda/lambda-edge-deploy-deployer.zip");
    assert!(
        zip.is_file(),
        "the deployer zip {} is missing: run scripts/build-deployer-zip (scripts/test runs it before cargo test)",
        zip.display()
    );
    let built = zip.metadata().unwrap().modified().unwrap();
    let newest_source = walk_newest(&common::repo().join("src"));
    if newest_source > built {
        eprintln!(
            "note: {} is older than the sources in src/; this tests the zip as built (run scripts/build-deployer-zip)",
            zip.display()
        );
    }
    zip
}

fn walk_newest(dir: &Path) -> SystemTime {
    let mut newest = UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        let time = if meta.is_dir() { walk_newest(&entry.path()) } else { meta.modified().unwrap() };
        newest = newest.max(time);
    }
    newest
}

/// Unzips the deployment zip as Lambda does into a task directory, which is then made read-only
/// (Lambda's /var/task is). The zip must hold `bootstrap` alone, executable.
fn unzip_task(zip: &Path) -> tempfile::TempDir {
    let task = tempfile::tempdir().unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(names, vec!["bootstrap".to_owned()], "the zip holds `bootstrap` at its root and nothing else");
    let mut entry = archive.by_name("bootstrap").unwrap();
    let mode = entry.unix_mode().expect("the zip records bootstrap's Unix mode");
    assert_eq!(
        mode & 0o755,
        0o755,
        "bootstrap is executable for everyone in the zip (mode {mode:o}): Lambda runs it as another user"
    );
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    let path = task.path().join("bootstrap");
    std::fs::write(&path, &bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777)).unwrap();
    std::fs::set_permissions(task.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    task
}

/// The highest GLIBC_x.y version among the binary's dynamic symbols, by `objdump -T` (binutils).
fn highest_glibc(binary: &Path) -> (u32, u32) {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .unwrap_or_else(|e| panic!("running objdump -T (binutils; scripts/build-deployer-zip installs it): {e}"));
    assert!(out.status.success(), "objdump -T {} failed: {}", binary.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>());
            match (parts.next(), parts.next()) {
                (Some(Ok(major)), Some(Ok(minor))) => Some((major, minor)),
                (Some(Ok(major)), None) => Some((major, 0)),
                _ => None,
            }
        })
        .max()
        .unwrap_or_else(|| panic!("{} has no GLIBC_ symbols: not built for glibc?\n{text}", binary.display()))
}

/// A Lambda Runtime API (2018-06-01) on loopback that hands out the queued events one by one and
/// reports what the function answered to each (`response` or `error`, and the body). The same as
/// tests/deployer.rs's, reduced to what one invocation needs.
struct RuntimeApi {
    address: String,
    outcomes: Receiver<(String, String)>,
}

impl RuntimeApi {
    fn start(events: Vec<String>) -> RuntimeApi {
        let queue = Mutex::new(events.into_iter().collect::<VecDeque<_>>());
        let (tx, outcomes) = channel();
        let url = http::serve(move |request| {
            if request.path.ends_with("/invocation/next") {
                let Some(event) = queue.lock().unwrap().pop_front() else { return Answer::Hold };
                let deadline =
                    (SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 300_000).to_string();
                return Answer::ok(
                    &[
                        ("Content-Type", "application/json"),
                        ("Lambda-Runtime-Aws-Request-Id", "req-1"),
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
            tx.send((format!("{kind} {}", request.path), request.body.clone())).unwrap();
            Answer::Respond {
                status: 202,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: b"{}".to_vec(),
            }
        });
        RuntimeApi { address: url.trim_start_matches("http://").to_owned(), outcomes }
    }
}

/// An S3 ObjectCreated:Put event in the shape AWS documents, for one object version.
fn s3_event(key: &str, version_id: &str) -> String {
    serde_json::json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "release-on-zip",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "versionId": version_id, "sequencer": "0055AED6DCD90281E5"}
        }
    }]})
    .to_string()
}

// Fails when the zip is missing or misbuilt: no `bootstrap`, not executable, linked against a glibc
// newer than AL2023's, or a binary that does not start and serve as a provided.al2023 function.
#[tokio::test]
async fn the_deployer_zip_serves_an_s3_event_as_a_provided_al2023_function() {
    let zip = deployer_zip();
    let task = unzip_task(&zip);
    let bootstrap = task.path().join("bootstrap");
    let glibc = highest_glibc(&bootstrap);
    assert!(
        glibc <= GLIBC_MAX,
        "bootstrap needs glibc {}.{}, newer than provided.al2023's {}.{}: it would not start on Lambda",
        glibc.0,
        glibc.1,
        GLIBC_MAX.0,
        GLIBC_MAX.1
    );

    // The stack, launched as the action launches it; then a new zip uploaded, as CI would.
    let world = World::with_bucket().await;
    let c = &world.c;
    let launched = world.run(&[("INPUT_ARTIFACT_PREFIX", PREFIX)]);
    assert_eq!(launched.code, 0, "the first launch:\n{}", launched.stderr);
    let package = lambda_edge_deploy::package::package(function_source("zip").path(), &Default::default()).unwrap();
    let bytes = std::fs::read(&package.path).unwrap();
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
    let put = c.s3.put_object().bucket(BUCKET).key(KEY).body(ByteStream::from(bytes)).send().await.unwrap();
    let version = put.version_id().unwrap().to_owned();

    // The process as the Lambda service starts a provided.al2023 function: the runtime's
    // environment (AWS documents these variables), the task directory as the working directory, a
    // temporary directory for /tmp, the function's configuration (the deployer's inputs), and
    // credentials as its execution role gives them.
    let api = RuntimeApi::start(vec![s3_event(KEY, &version)]);
    let tmp = tempfile::tempdir().unwrap();
    let task_root = task.path().display().to_string();
    let mut deployer = Command::new(&bootstrap)
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.address.as_str()),
            ("_HANDLER", "bootstrap"),
            ("LAMBDA_TASK_ROOT", task_root.as_str()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
            ("AWS_LAMBDA_FUNCTION_NAME", "deployer"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/deployer"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]0123456789abcdef"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
            ("AWS_ENDPOINT_URL", world.emu.url.as_str()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
            ("LD_LIBRARY_PATH", "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"),
            ("LANG", "en_US.UTF-8"),
            ("TZ", ":UTC"),
            ("TMPDIR", &tmp.path().display().to_string()),
            ("INPUT_STACK_NAME", STACK),
            ("INPUT_ARTIFACT_BUCKET", BUCKET),
            ("INPUT_ARTIFACT_PREFIX", PREFIX),
        ])
        .current_dir(task.path())
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bootstrap.display()));
    let outcome = api.outcomes.recv_timeout(Duration::from_secs(120));
    let status = deployer.try_wait().unwrap();
    let _ = deployer.kill();
    let _ = deployer.wait();
    let (kind, body) =
        outcome.unwrap_or_else(|_| panic!("bootstrap answered no invocation within 120 s (it exited: {status:?})"));
    assert!(kind.starts_with("response "), "the invocation failed: {kind}\n{body}");
    assert!(kind.contains("/2018-06-01/runtime/invocation/req-1/"), "answered the invocation it was given: {kind}");

    // The emulator's state: the uploaded object version is published and live.
    let version_arn = c.stack_parameter(STACK, "LambdaVersion").await;
    let published = c.lambda.get_function_configuration().function_name(&version_arn).send().await.unwrap();
    assert_eq!(published.code_sha256(), Some(sha.as_str()), "released from the event's object version");
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, version);
    assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "false");
    let (status, arns) = c.distribution(&c.only_distribution_id().await).await;
    assert_eq!((status.as_str(), arns), ("Deployed", vec![version_arn.clone()]));
    let response: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(response["released"][0]["version-arn"], version_arn.as_str(), "{response}");
    assert_eq!(response["released"][0]["s3-version-id"], version.as_str(), "{response}");

    // Let the tempdir be removed: the task directory was made read-only.
    std::fs::set_permissions(task.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}
