//! The command line as a laptop user meets it: flags, `--help`, `--version`, unknown arguments and
//! inputs, and the failures before AWS answers (no credentials, a missing profile, refused
//! credentials, a closed port). Each checks the emulator's state: nothing may change.

mod common;

use std::time::{Duration, Instant};

use common::{run_args, Emulator, World, BUCKET, FUNCTION, STACK};
use lambda_edge_deploy::inputs::INPUTS;

/// What the emulator holds that a run could have changed: stacks, functions, objects.
async fn state(c: &common::Clients) -> (usize, usize, usize) {
    let functions = c.lambda.list_functions().send().await.unwrap().functions().len();
    let objects = match c.s3.list_object_versions().bucket(BUCKET).send().await {
        Ok(o) => o.versions().len(),
        Err(_) => 0,
    };
    (c.stack_count().await, functions, objects)
}

/// The names of action.yml's inputs, read from the file itself.
fn action_inputs() -> Vec<String> {
    let text = std::fs::read_to_string(common::repo().join("action.yml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    doc["inputs"].as_hash().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn help_and_version_answer_without_touching_aws() {
    let world = World::with_bucket().await;
    let before = state(&world.c).await;
    let help = run_args(&world.env(&[]), world.src.path(), &["--help"]);
    assert_eq!(help.code, 0, "{}", help.stderr);
    let inputs = action_inputs();
    assert_eq!(inputs.len(), INPUTS.len());
    for name in &inputs {
        assert!(help.stdout.contains(&format!("--{name}")), "--help lacks --{name}:\n{}", help.stdout);
        let env = format!("INPUT_{}", name.to_uppercase().replace('-', "_"));
        assert!(help.stdout.contains(&env), "--help lacks {env}");
    }
    assert!(help.stdout.contains("[default: us-east-1]"), "defaults are shown:\n{}", help.stdout);
    assert!(help.stdout.contains("Exit codes"), "{}", help.stdout);

    let version = run_args(&world.env(&[]), world.src.path(), &["--version"]);
    assert_eq!(version.code, 0);
    assert_eq!(version.stdout.trim(), format!("lambda-edge-deploy {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(state(&world.c).await, before, "nothing was created");
    assert_eq!(before, (0, 0, 0));
}

#[tokio::test]
async fn dry_run_as_a_flag_writes_nothing_even_with_every_variable_set() {
    let world = World::with_bucket().await;
    let r = run_args(&world.env(&[]), world.src.path(), &["--dry-run"]);
    r.assert_one_json_object();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("dry run: would"), "{}", r.stderr);
    assert_eq!(state(&world.c).await, (0, 0, 0), "a dry run creates nothing");
    assert_eq!(r.out("changed"), "true", "it would change something");
}

#[tokio::test]
async fn a_flag_wins_over_its_variable() {
    let world = World::with_bucket().await;
    let env = world.env(&[("INPUT_STACK_NAME", "not-this-one"), ("INPUT_FUNCTION-NAME", "nor-this")]);
    let r = run_args(&env, world.src.path(), &["--stack-name", STACK, "--function-name", FUNCTION]);
    r.assert_one_json_object();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(world.c.stack_status(STACK).await, "CREATE_COMPLETE");
    assert_eq!(world.c.stack_count().await, 1, "no stack named by the variable");
    assert_eq!(world.c.stack_parameter(STACK, "FunctionName").await, FUNCTION);
}

#[tokio::test]
async fn an_unknown_flag_or_input_exits_2_naming_the_closest_and_changes_nothing() {
    let world = World::with_bucket().await;
    // (arguments, variables, what the message must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (&["--stack-nam", "x"], &[], "--stack-name"),
        (&["release"], &[], "release"),
        (&[], &[("INPUT_DRY_RUNN", "true")], "dry-run"),
        (&[], &[("INPUT_VERBOSE", "true")], "INPUT_VERBOSE"),
    ];
    for (args, vars, named) in cases {
        let r = run_args(&world.env(vars), world.src.path(), args);
        r.assert_one_json_object();
        assert_eq!(r.code, 2, "{args:?} {vars:?}: {}", r.stderr);
        assert!(r.stderr.contains(named), "{args:?} {vars:?} must name {named}: {}", r.stderr);
        assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
        assert_eq!(state(&world.c).await, (0, 0, 0), "{args:?} {vars:?}");
    }
}

/// An environment with no credentials anywhere: no keys, a home without ~/.aws, no instance
/// metadata. The emulator is the endpoint, so that anything written would show.
fn without_credentials(emu: &Emulator, world: &World, more: &[(&str, &str)]) -> Vec<(String, String)> {
    let home = world.files().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut env: Vec<(String, String)> = world
        .env(&[])
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS_KEY_ID") && !k.starts_with("AWS_SECRET_ACCESS_KEY"))
        .collect();
    env.push(("HOME".into(), home.display().to_string()));
    env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
    env.push(("AWS_ENDPOINT_URL".into(), emu.url.clone()));
    env.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

#[tokio::test]
async fn no_credentials_and_a_missing_profile_exit_2_naming_the_cause() {
    let world = World::with_bucket().await;
    let r = common::run(&without_credentials(&world.emu, &world, &[]), world.src.path());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no AWS credentials found"), "{}", r.stderr);
    assert!(r.stderr.contains("Environment") && r.stderr.contains("Profile"), "the chain tried: {}", r.stderr);
    assert!(r.stderr.contains("aws-actions/configure-aws-credentials"), "{}", r.stderr);
    assert!(!r.stderr.contains("DispatchFailure"), "{}", r.stderr);

    let r = common::run(&without_credentials(&world.emu, &world, &[("AWS_PROFILE", "deploy")]), world.src.path());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("there is no profile `deploy`"), "{}", r.stderr);
    assert!(r.stderr.contains("aws configure --profile deploy"), "{}", r.stderr);

    // A profile that exists but gives no credentials is told apart.
    let aws = world.files().join("home/.aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(aws.join("config"), "[profile deploy]\nregion = us-east-1\n").unwrap();
    let r = common::run(&without_credentials(&world.emu, &world, &[("AWS_PROFILE", "deploy")]), world.src.path());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("profile `deploy` gives no credentials"), "{}", r.stderr);
    assert_eq!(state(&world.c).await, (0, 0, 0));
}

#[tokio::test]
async fn a_closed_port_exits_2_naming_the_endpoint_in_under_10_seconds() {
    let world = World::with_bucket().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut env = world.env(&[]);
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), url.clone()));
    let started = Instant::now();
    let r = common::run(&env, world.src.path());
    let took = started.elapsed();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("AWS could not be reached at {url}")), "{}", r.stderr);
    assert!(r.stderr.contains("refused"), "{}", r.stderr);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// With authentication on, moto refuses an access key none of its IAM users has with
/// InvalidClientTokenId, as STS does.
#[tokio::test]
async fn credentials_aws_refuses_exit_2_with_its_code() {
    let emu = Emulator::start();
    emu.require_credentials();
    let src = common::function_source("one");
    let mut env = emu.env();
    env.extend(common::inputs(src.path(), &[]));
    let r = common::run(&env, src.path());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("AWS refused the credentials: InvalidClientTokenId"), "{}", r.stderr);
    assert!(r.stderr.contains("aws sts get-caller-identity"), "{}", r.stderr);
}

#[tokio::test]
async fn stdout_is_one_json_object_for_exits_0_1_2_and_3() {
    let world = World::with_bucket().await;
    let mut seen = Vec::new();
    // `run` holds each to it; here each exit is made to happen.
    let r = world.run(&[]);
    seen.push(r.code);
    let edge = world.emu.edge(&world.c.only_distribution_id().await);
    let r = world
        .release("two", &[("INPUT_CHECK_URL", &edge), ("INPUT_CHECK_STATUS", "418"), ("INPUT_CHECK_TIMEOUT", "2s")]);
    seen.push(r.code);
    assert_eq!(r.out("check-result"), "failed", "the outputs known so far are kept");
    let r = world.run(&[("INPUT_REGION", "eu-west-1")]);
    seen.push(r.code);
    world.emu.hold_distributions(60);
    let r = world.release("three", &[("INPUT_TIMEOUT", "3s")]);
    seen.push(r.code);
    assert!(!r.out("version-arn").is_empty(), "the version published before the timeout: {}", r.stdout);
    assert_eq!(seen, [0, 1, 2, 3]);
}

/// examples/workflows/local.sh as a newcomer runs it from the repository: the example, against an
/// emulator. Its own emulator is started unless EMULATOR_URL names one; here the test's, to read.
#[tokio::test]
async fn the_laptop_example_releases_the_repositorys_example_on_the_emulator() {
    let emu = Emulator::start();
    let c = emu.clients().await;
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::repo().join("examples/workflows/local.sh"))
        .arg("--emulator")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("EMULATOR_URL", &emu.url)
        .env("LAMBDA_EDGE_DEPLOY", env!("CARGO_BIN_EXE_lambda-edge-deploy"))
        .current_dir(home.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c.stack_status("site-edge").await, "CREATE_COMPLETE");
    let (_, arns) = c.distribution(&c.only_distribution_id().await).await;
    assert_eq!(arns, vec![json["version-arn"].as_str().unwrap().to_owned()]);
    assert!(stderr.contains("Lambda@Edge version: 1; changed: True"), "{stderr}");
}
