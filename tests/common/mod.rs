//! Shared by the integration tests: the emulator, the binary, and reading the emulator's state.
#![allow(dead_code)]

pub mod http;
pub mod runner;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

pub const FUNCTION: &str = "edge-fn";
pub const STACK: &str = "site";
pub const BUCKET: &str = "edge-artifacts";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// moto's server with the project's extensions, on a free loopback port, one per test so that
/// tests share no state. It exits when this process does (its stdin closes).
pub struct Emulator {
    child: Child,
    pub url: String,
}

impl Emulator {
    pub fn start() -> Emulator {
        let python = std::env::var("LED_PYTHON").map(PathBuf::from).unwrap_or_else(|_| repo().join(".venv/bin/python"));
        assert!(
            python.exists(),
            "no Python with moto at {} (set LED_PYTHON, or run scripts/test, which installs it)",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(repo().join("tests/emulator/launcher.py"))
            .args(["--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the emulator's address");
        let url = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected launcher output: {line:?}"))
            .to_owned();
        Emulator { child, url }
    }

    pub async fn clients(&self) -> Clients {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests"))
            .load()
            .await;
        Clients::from_config(&config)
    }

    /// Keeps every distribution InProgress for `seconds` after each change (moto's state manager).
    pub fn hold_distributions(&self, seconds: u64) {
        let body = format!(
            r#"{{"model_name": "cloudfront::distribution", "transition": {{"progression": "time", "seconds": {seconds}}}}}"#
        );
        ureq::post(&format!("{}/moto-api/state-manager/set-transition", self.url))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .expect("set the distribution transition");
    }

    /// Turns moto's authentication on: access keys are checked against its IAM users, and an unknown
    /// one is refused with InvalidClientTokenId, as AWS does.
    pub fn require_credentials(&self) {
        ureq::post(&format!("{}/moto-api/reset-auth", self.url)).send(&b"0"[..]).expect("turn authentication on");
    }

    /// Changes the emulator's settings (`POST /_emulator/config`): `time_scale`, `durations`,
    /// `s3_list_bucket`, ... (see tests/emulator/launcher.py). Returns the settings now in force.
    pub fn configure(&self, settings: serde_json::Value) -> serde_json::Value {
        let mut response = ureq::post(&format!("{}/_emulator/config", self.url))
            .header("Content-Type", "application/json")
            .send(settings.to_string().as_bytes())
            .expect("configure the emulator");
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// The edge stand-in of a distribution: caches as CloudFront does and answers from the version
    /// its configuration associates. Returns its base URL.
    pub fn edge(&self, distribution_id: &str) -> String {
        let body = serde_json::json!({ "DistributionId": distribution_id }).to_string();
        let mut response = ureq::post(&format!("{}/_emulator/edge", self.url))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .expect("start the edge stand-in");
        let answer: serde_json::Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        answer["Url"].as_str().expect("the edge's URL").to_owned()
    }

    /// Environment for the binary: dummy credentials, the emulator as every endpoint, and a job-wide
    /// region other than us-east-1, which the deploy must ignore.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "eu-west-1"),
            ("PATH", "/usr/bin:/bin"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub cf: aws_sdk_cloudfront::Client,
    pub iam: aws_sdk_iam::Client,
}

impl Clients {
    pub fn from_config(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build()),
            lambda: aws_sdk_lambda::Client::new(config),
            cfn: aws_sdk_cloudformation::Client::new(config),
            cf: aws_sdk_cloudfront::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
        }
    }

    pub async fn versioned_bucket(&self, name: &str) {
        self.s3.create_bucket().bucket(name).send().await.unwrap();
        self.s3
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// S3's version ids of `key`, newest first.
    pub async fn object_versions(&self, bucket: &str, key: &str) -> Vec<String> {
        let out = self.s3.list_object_versions().bucket(bucket).prefix(key).send().await.unwrap();
        out.versions().iter().filter(|v| v.key() == Some(key)).map(|v| v.version_id().unwrap().to_owned()).collect()
    }

    /// Published version numbers of the function.
    pub async fn lambda_versions(&self, function: &str) -> Vec<String> {
        let out = self.lambda.list_versions_by_function().function_name(function).send().await.unwrap();
        out.versions().iter().filter_map(|v| v.version()).filter(|v| *v != "$LATEST").map(str::to_owned).collect()
    }

    pub async fn stack_parameter(&self, stack: &str, key: &str) -> String {
        let out = self.cfn.describe_stacks().stack_name(stack).send().await.unwrap();
        let s = &out.stacks()[0];
        s.parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value())
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn stack_status(&self, stack: &str) -> String {
        let out = self.cfn.describe_stacks().stack_name(stack).send().await.unwrap();
        out.stacks()[0].stack_status().unwrap().as_str().to_owned()
    }

    pub async fn stack_count(&self) -> usize {
        let out = self.cfn.list_stacks().send().await.unwrap();
        out.stack_summaries().iter().filter(|s| s.stack_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE")).count()
    }

    /// The distribution's status and every Lambda association ARN in its cache behaviors.
    pub async fn distribution(&self, id: &str) -> (String, Vec<String>) {
        let out = self.cf.get_distribution().id(id).send().await.unwrap();
        let d = out.distribution().unwrap();
        let config = d.distribution_config().unwrap();
        let mut arns: Vec<String> = config
            .default_cache_behavior()
            .and_then(|b| b.lambda_function_associations())
            .map(|l| l.items().iter().map(|a| a.lambda_function_arn().to_owned()).collect())
            .unwrap_or_default();
        for b in config.cache_behaviors().map(|c| c.items()).unwrap_or_default() {
            if let Some(l) = b.lambda_function_associations() {
                arns.extend(l.items().iter().map(|a| a.lambda_function_arn().to_owned()));
            }
        }
        (d.status().to_owned(), arns)
    }

    /// The only distribution in the emulator.
    pub async fn only_distribution_id(&self) -> String {
        let out = self.cf.list_distributions().send().await.unwrap();
        let items = out.distribution_list().map(|l| l.items()).unwrap_or_default();
        assert_eq!(items.len(), 1, "expected one distribution");
        items[0].id().to_owned()
    }
}

/// One request to an edge stand-in: (status, X-Edge-Release, X-Cache).
pub fn edge_get(url: &str) -> (u16, String, String) {
    let response = ureq::get(url).config().http_status_as_error(false).build().call().expect("request the edge");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (response.status().as_u16(), header("x-edge-release"), header("x-cache"))
}

/// Every request an edge stand-in has answered, oldest first.
pub fn edge_log(edge: &str) -> Vec<serde_json::Value> {
    let mut response = ureq::get(&format!("{edge}/_edge/log")).call().expect("read the edge's log");
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

/// One test's world: its own emulator, clients on it, a copy of the example function, and a scratch
/// directory. The same preamble for every integration test.
pub struct World {
    pub emu: Emulator,
    pub c: Clients,
    pub src: tempfile::TempDir,
    pub files: tempfile::TempDir,
}

impl World {
    pub async fn start() -> World {
        let emu = Emulator::start();
        let c = emu.clients().await;
        World { emu, c, src: function_source("one"), files: tempfile::tempdir().unwrap() }
    }

    /// A world with the artifact bucket, versioned.
    pub async fn with_bucket() -> World {
        let world = World::start().await;
        world.c.versioned_bucket(BUCKET).await;
        world
    }

    /// A world where the example is launched (the first launch must succeed).
    pub async fn launched() -> World {
        let world = World::with_bucket().await;
        let r = world.run(&[]);
        assert_eq!(r.code, 0, "the first launch failed:\n{}", r.stderr);
        world
    }

    pub fn files(&self) -> &Path {
        self.files.path()
    }

    /// The environment of a run of the example with `more` over its inputs (a blank value unsets
    /// one); in a value, `{files}` is the scratch directory and `{emulator}` the emulator's URL.
    pub fn env(&self, more: &[(&str, &str)]) -> Vec<(String, String)> {
        let files = self.files().display().to_string();
        let more: Vec<(String, String)> = more
            .iter()
            .map(|(k, v)| (k.to_string(), v.replace("{files}", &files).replace("{emulator}", &self.emu.url)))
            .collect();
        let more: Vec<(&str, &str)> = more.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut env = self.emu.env();
        env.extend(inputs(self.src.path(), &more));
        env
    }

    /// Runs the binary on the example with `more` over its inputs.
    pub fn run(&self, more: &[(&str, &str)]) -> Run {
        run(&self.env(more), self.src.path())
    }

    /// Changes the code (a new release marker), then runs.
    pub fn release(&self, marker: &str, more: &[(&str, &str)]) -> Run {
        set_marker(self.src.path(), marker);
        self.run(more)
    }
}

/// A copy of the example edge function in a temporary directory, with a release marker.
pub fn function_source(marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = repo().join("examples/edge-function");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    set_marker(dir.path(), marker);
    dir
}

/// Changes the code: a file whose content names the release.
pub fn set_marker(dir: &Path, marker: &str) {
    std::fs::write(dir.join("release.json"), format!("{{\"release\": \"{marker}\"}}\n")).unwrap();
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON object on stdout.
    pub fn json(&self) -> serde_json::Value {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON on stdout: {self:?}"));
        serde_json::from_str(line).unwrap()
    }

    pub fn out(&self, name: &str) -> String {
        let v = &self.json()[name];
        v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
    }
}

/// Starts the real binary with exactly this environment, in `cwd`; its stderr arrives line by line
/// as it runs (stdout is dropped), for tests that act while it runs.
pub fn spawn(env: &[(String, String)], cwd: &Path) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lambda-edge-deploy"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lambda-edge-deploy");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Runs the real binary with exactly this environment, in `cwd`.
pub fn run(env: &[(String, String)], cwd: &Path) -> Run {
    let r = run_args(env, cwd, &[]);
    r.assert_one_json_object();
    r
}

/// Runs the real binary with these arguments and exactly this environment, in `cwd`.
pub fn run_args(env: &[(String, String)], cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_lambda-edge-deploy"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run lambda-edge-deploy");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "--- lambda-edge-deploy {} exited {} ---\n{}\n--- stdout ---\n{}",
        args.join(" "),
        r.code,
        r.stderr,
        r.stdout
    );
    r
}

impl Run {
    /// Whatever the exit, stdout is one JSON object (a script pipes it into a JSON parser); a
    /// failure's has `error` and `exit-code`. Every run of the suite is held to it.
    pub fn assert_one_json_object(&self) {
        let json: serde_json::Value = serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!("stdout of a run that exited {} is not one JSON value ({e}): {:?}", self.code, self.stdout)
        });
        assert!(json.is_object(), "stdout is not a JSON object: {json}");
        if self.code == 0 {
            assert!(json.get("error").is_none(), "a success has no `error`: {json}");
        } else {
            assert_eq!(json["exit-code"], self.code, "`exit-code` is the process's: {json}");
            assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()), "a failure says why: {json}");
        }
    }
}

/// The inputs of a release of the example, as a shell user would set them.
pub fn inputs(source: &Path, more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("INPUT_FUNCTION_NAME".into(), FUNCTION.into()),
        ("INPUT_STACK_NAME".into(), STACK.into()),
        ("INPUT_ARTIFACT_BUCKET".into(), BUCKET.into()),
        ("INPUT_SOURCE".into(), source.display().to_string()),
        ("INPUT_TEMPLATE".into(), repo().join("examples/template.yaml").display().to_string()),
    ];
    for (k, val) in more {
        v.retain(|(name, _)| name != k);
        v.push((k.to_string(), val.to_string()));
    }
    v
}

/// The two functions of examples/multi, as `functions` names them.
pub const VIEWER: &str = "site-viewer";
pub const ORIGIN: &str = "site-origin";

/// A copy of one of examples/multi's functions (`viewer` or `origin`), with a release marker.
pub fn multi_source(which: &str, marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("examples/multi").join(which).join("index.js"), dir.path().join("index.js")).unwrap();
    set_marker(dir.path(), marker);
    dir
}

/// The inputs of a release of examples/multi: both functions, from these directories.
pub fn multi_inputs(viewer: &Path, origin: &Path, more: &[(&str, &str)]) -> Vec<(String, String)> {
    let functions = format!("ViewerVersion={VIEWER}:{}\nOriginVersion={ORIGIN}:{}", viewer.display(), origin.display());
    let mut v: Vec<(String, String)> = vec![
        ("INPUT_FUNCTIONS".into(), functions),
        ("INPUT_STACK_NAME".into(), STACK.into()),
        ("INPUT_ARTIFACT_BUCKET".into(), BUCKET.into()),
        ("INPUT_TEMPLATE".into(), repo().join("examples/multi/template.yaml").display().to_string()),
    ];
    for (k, val) in more {
        v.retain(|(name, _)| name != k);
        if !val.is_empty() {
            v.push((k.to_string(), val.to_string()));
        }
    }
    v
}

impl Clients {
    /// The distribution's Lambda associations: (event type, version ARN), default behavior first.
    pub async fn associations(&self, id: &str) -> Vec<(String, String)> {
        let out = self.cf.get_distribution().id(id).send().await.unwrap();
        let config = out.distribution().unwrap().distribution_config().unwrap().clone();
        let behaviors =
            config.default_cache_behavior().and_then(|b| b.lambda_function_associations()).into_iter().chain(
                config
                    .cache_behaviors()
                    .map(|c| c.items())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|b| b.lambda_function_associations()),
            );
        behaviors
            .flat_map(|l| {
                l.items().iter().map(|a| (a.event_type().as_str().to_owned(), a.lambda_function_arn().to_owned()))
            })
            .collect()
    }

    /// How many updates of the stack CloudFormation started (its own UPDATE_IN_PROGRESS events), and
    /// how many of them updated the distribution (its resource's UPDATE_COMPLETE events).
    pub async fn stack_updates(&self, stack: &str) -> (usize, usize) {
        let mut events = Vec::new();
        let mut next = None;
        loop {
            let out = self.cfn.describe_stack_events().stack_name(stack).set_next_token(next).send().await.unwrap();
            events.extend(out.stack_events().iter().cloned());
            next = out.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        let count = |kind: &str, status: &str| {
            events
                .iter()
                .filter(|e| e.resource_type() == Some(kind) && e.resource_status().map(|s| s.as_str()) == Some(status))
                .count()
        };
        (
            count("AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS"),
            count("AWS::CloudFront::Distribution", "UPDATE_COMPLETE"),
        )
    }
}

impl Clients {
    /// The physical id of one of the stack's resources.
    pub async fn stack_resource_id(&self, stack: &str, logical_id: &str) -> String {
        let out =
            self.cfn.describe_stack_resource().stack_name(stack).logical_resource_id(logical_id).send().await.unwrap();
        out.stack_resource_detail().and_then(|d| d.physical_resource_id()).unwrap_or_default().to_owned()
    }
}
