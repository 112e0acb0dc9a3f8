//! Hostile input, half-finished runs and interrupts: every path ends in a clear, true answer.
//! The real binary against the emulator, checked against the emulator's state.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{self, Answer};
use common::{edge_get, edge_log, inputs, run, set_marker, Emulator, World, BUCKET, STACK};

/// The example launched, and its edge stand-in.
async fn launched(emu: &Emulator, c: &common::Clients, src: &std::path::Path) -> String {
    c.versioned_bucket(BUCKET).await;
    let mut env = emu.env();
    env.extend(inputs(src, &[]));
    assert_eq!(run(&env, src).code, 0, "the first launch");
    emu.edge(&c.only_distribution_id().await)
}

/// The invalidations of the distribution: (id, paths).
async fn invalidations(c: &common::Clients, id: &str) -> Vec<(String, Vec<String>)> {
    let list = c.cf.list_invalidations().distribution_id(id).send().await.unwrap();
    let mut out = Vec::new();
    for item in list.invalidation_list().map(|l| l.items().to_vec()).unwrap_or_default() {
        let inv = c.cf.get_invalidation().distribution_id(id).id(item.id()).send().await.unwrap();
        let paths = inv.invalidation().unwrap().invalidation_batch().unwrap().paths().unwrap().items().to_vec();
        out.push((item.id().to_owned(), paths));
    }
    out
}

// Fails without the completion decided from the live state: the re-run saw the live CodeSha256 and
// returned at once, exit 0, with the distribution still InProgress, no invalidation and no check.
#[tokio::test]
async fn a_rerun_after_wait_false_finishes_the_release() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    let edge = launched(emu, c, src.path()).await;
    let id = c.only_distribution_id().await;
    let page = format!("{edge}/index.html");
    assert_eq!(edge_get(&page).1, "one");
    // CloudFront takes a while, as it does.
    emu.configure(serde_json::json!({ "time_scale": 0.01 }));

    set_marker(src.path(), "two");
    let started = world.run(&[("INPUT_WAIT", "false")]);
    assert_eq!(started.code, 0);
    assert_eq!(started.out("stack-status"), "UPDATE_IN_PROGRESS");

    let mut env = emu.env();
    env.extend(inputs(
        src.path(),
        &[
            ("INPUT_INVALIDATION_PATHS", "/*"),
            ("INPUT_CHECK_URL", &page),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^two$"),
            ("INPUT_CHECK_TIMEOUT", "20s"),
        ],
    ));
    let rerun = run(&env, src.path());
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(rerun.out("changed"), "false", "the re-run published and updated nothing");
    assert_eq!(rerun.out("check-result"), "passed");
    let (status, arns) = c.distribution(&id).await;
    assert_eq!((status.as_str(), arns), ("Deployed", vec![started.out("version-arn")]));
    let made = invalidations(c, &id).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].1, vec!["/*".to_string()]);
    assert_eq!(rerun.out("invalidation-id"), made[0].0);
    let last = edge_log(&edge).pop().unwrap();
    assert_eq!(last["release"], "two", "the check saw the new code: {last}");

    // Run again: everything is done, so nothing is invalidated a second time.
    let again = run(&env, src.path());
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(invalidations(c, &id).await.len(), 1, "no second invalidation");
    assert!(again.stderr.contains("was made for what the distribution runs now; not repeated"), "{}", again.stderr);
}

/// The workflow commands the GitHub runner would act on in this output: it reads `::name` after
/// leading spaces and `##[name]` anywhere in a line, until `::stop-commands::TOKEN`, and again after
/// `::TOKEN::`.
fn commands_the_runner_sees(output: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut stopped: Option<String> = None;
    for line in output.lines() {
        if let Some(token) = &stopped {
            if line == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        if let Some(rest) = line.trim_start().strip_prefix("::") {
            let name = rest.split([' ', ':']).next().unwrap_or_default().to_owned();
            if name == "stop-commands" {
                stopped = Some(rest.trim_start_matches("stop-commands::").to_owned());
            }
            seen.push(name);
        } else if let Some(at) = line.find("##[") {
            seen.push(format!("##[{}", &line[at + 3..]));
        }
    }
    seen
}

/// An edge that answers with hostile header values and body text.
fn hostile_edge() -> String {
    http::serve(|_| {
        let headers = [
            ("x-edge-release", "##[error]forged annotation"),
            ("x-other", "::warning::forged"),
            ("Connection", "close"),
        ];
        Answer::ok(&headers, "\n::stop-commands::x\n::error::forged\n##[add-mask]secret")
    })
}

// Fails without the one writer: text from the edge, from AWS and from inputs was written raw, and the
// runner took `##[error]...` in a header for an annotation of its own.
#[tokio::test]
async fn text_from_aws_the_edge_and_inputs_never_becomes_a_workflow_command() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    let edge = hostile_edge();
    let files = tempfile::tempdir().unwrap();
    let mut env = emu.env();
    env.extend(inputs(
        src.path(),
        &[
            // An S3 key prefix is any text: it shows in the upload's log line.
            ("INPUT_ARTIFACT_PREFIX", "##[add-mask]releases/::x/"),
            ("INPUT_CHECK_URL", &format!("{edge}/")),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^never$\nx-other: ^never$"),
            ("INPUT_CHECK_BODY", "never"),
            ("INPUT_CHECK_TIMEOUT", "2s"),
        ],
    ));
    env.push(("GITHUB_ACTIONS".into(), "true".into()));
    env.push(("GITHUB_STEP_SUMMARY".into(), files.path().join("summary.md").display().to_string()));
    let r = run(&env, src.path());
    assert_eq!(r.code, 1, "the check fails: {}", r.stderr);
    assert!(r.stderr.contains("##[error]forged annotation"), "the text itself is shown: {}", r.stderr);
    let allowed = ["group", "endgroup", "error", "warning", "debug", "stop-commands"];
    for output in [&r.stderr, &r.stdout] {
        let seen = commands_the_runner_sees(output);
        let forged: Vec<&String> = seen.iter().filter(|c| !allowed.contains(&c.as_str())).collect();
        assert!(forged.is_empty(), "the runner would act on {forged:?} in:\n{output}");
    }
    assert_eq!(c.object_versions(BUCKET, "##[add-mask]releases/::x/edge-fn.zip").await.len(), 1);
}

/// An edge that answers 200 with the new release's header and a body of `size` bytes.
fn large_edge(size: usize) -> String {
    http::serve(move |_| {
        let mut body = b"<h1>two</h1>".to_vec();
        body.resize(size, b'x');
        Answer::ok(&[("x-edge-release", "two"), ("Connection", "close")], body)
    })
}

// Fails without reading at most the first MB, and only for check-body: any body over 1 MB failed the
// check ("length limit exceeded"), and with rollback-on-failure rolled a good release back.
#[tokio::test]
async fn a_page_over_a_megabyte_is_an_answer_like_any_other() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    launched(emu, c, src.path()).await;
    let edge = large_edge(3 * 1024 * 1024);
    for body in [None, Some("^<h1>two</h1>x+")] {
        set_marker(src.path(), if body.is_some() { "three" } else { "two" });
        let mut more = vec![
            ("INPUT_CHECK_URL", edge.as_str()),
            ("INPUT_CHECK_HEADER", "x-edge-release: ^two$"),
            ("INPUT_CHECK_TIMEOUT", "5s"),
            ("INPUT_ROLLBACK_ON_FAILURE", "true"),
        ];
        more.extend(body.map(|b| ("INPUT_CHECK_BODY", b)));
        let mut env = emu.env();
        env.extend(inputs(src.path(), &more));
        let r = run(&env, src.path());
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.out("check-result"), "passed");
        assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"), "not rolled back");
    }
}

// Fails without the stop: SIGINT printed "interrupted" while packaging went on; SIGTERM 7.5 s later
// was ignored as well, and the temporary zip was left behind.
#[tokio::test]
async fn an_interrupt_during_packaging_stops_it_within_a_second_and_leaves_no_zip() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    for d in 0..300 {
        let dir = src.path().join(format!("lib{d}"));
        std::fs::create_dir(&dir).unwrap();
        for f in 0..200 {
            std::fs::write(dir.join(format!("m{f}.js")), format!("module.exports = {d} * {f};\n")).unwrap();
        }
    }
    let temp = tempfile::tempdir().unwrap();
    let mut env = emu.env();
    env.extend(inputs(src.path(), &[]));
    env.push(("TMPDIR".into(), temp.path().display().to_string()));
    let (mut child, lines) = common::spawn(&env, src.path());
    // Packaging runs from the start of the preflight: interrupt it once its zip exists.
    let until = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(temp.path()).unwrap().next().is_none() {
        assert!(Instant::now() < until, "no temporary zip appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let interrupted = Instant::now();
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(interrupted.elapsed() < Duration::from_secs(5), "still running 5 s after SIGINT");
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = interrupted.elapsed();
    let stderr: Vec<String> = lines.try_iter().collect();
    assert_eq!(status.code(), Some(130), "{stderr:?}");
    assert!(took < Duration::from_secs(2), "stopped {took:?} after SIGINT");
    let left: Vec<_> = std::fs::read_dir(temp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(c.object_versions(BUCKET, "edge-fn.zip").await.is_empty(), "nothing uploaded");
    assert_eq!(c.stack_count().await, 0);
}

/// Runs the binary with `env` and one more variable whose value is these bytes: exit code, stderr.
fn run_with(env: &[(String, String)], cwd: &std::path::Path, name: &str, value: &[u8]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lambda-edge-deploy"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env(name, std::ffi::OsStr::from_bytes(value))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

// Fails without reading the environment as OS strings: any variable that is not UTF-8 aborted the
// run with a panic that printed its value.
#[tokio::test]
async fn a_variable_that_is_not_utf8_is_ignored_and_never_shown() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let src = &world.src;
    let mut env = emu.env();
    env.extend(inputs(src.path(), &[]));
    let (code, stderr) = run_with(&env, src.path(), "SOME_TOKEN", b"s3cr\xffet-value");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("s3cr") && !stderr.contains("panicked"), "{stderr}");
    assert_eq!(c.stack_status(STACK).await, "CREATE_COMPLETE");

    // An input that must be text is named, its value never shown.
    let (code, stderr) = run_with(&env, src.path(), "INPUT_TAGS", b"team=s3cr\xffet");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("input `tags`: INPUT_TAGS is not UTF-8 text") && !stderr.contains("s3cr"), "{stderr}");
}

// Fails without the warning: a release that had happened exited 1 with a message about the
// temporary directory when GITHUB_OUTPUT could not be written.
#[tokio::test]
async fn a_release_whose_outputs_cannot_be_written_still_exits_0_with_a_warning() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    let src = &world.src;
    launched(emu, c, src.path()).await;
    set_marker(src.path(), "two");
    let mut env = emu.env();
    env.extend(inputs(src.path(), &[]));
    env.push(("GITHUB_OUTPUT".into(), "/nonexistent/dir/output".into()));
    let r = run(&env, src.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("the release succeeded, but its report could not be written"), "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/dir/output"), "{}", r.stderr);
    assert_eq!(c.stack_parameter(STACK, "LambdaVersion").await, r.out("version-arn"));
}
