//! Several functions in one release (`functions`): examples/multi, a viewer-request and an
//! origin-request function on one distribution, checked against the emulator's state.

mod common;

use common::{multi_inputs, multi_source, run, set_marker, Clients, Emulator, BUCKET, ORIGIN, STACK, VIEWER};

/// One test's world: its emulator, its clients, and the two functions' sources.
struct Multi {
    emu: Emulator,
    c: Clients,
    viewer: tempfile::TempDir,
    origin: tempfile::TempDir,
}

impl Multi {
    async fn start() -> Multi {
        let emu = Emulator::start();
        let c = emu.clients().await;
        c.versioned_bucket(BUCKET).await;
        Multi { emu, c, viewer: multi_source("viewer", "v1"), origin: multi_source("origin", "o1") }
    }

    async fn launched() -> Multi {
        let m = Multi::start().await;
        let r = m.run(&[]);
        assert_eq!(r.code, 0, "the first launch failed");
        m
    }

    fn run(&self, more: &[(&str, &str)]) -> common::Run {
        let mut env = self.emu.env();
        env.extend(multi_inputs(self.viewer.path(), self.origin.path(), more));
        run(&env, self.viewer.path())
    }

    /// The event type each version ARN is associated at, sorted by event type.
    async fn associated(&self) -> Vec<(String, String)> {
        let mut a = self.c.associations(&self.c.only_distribution_id().await).await;
        a.sort();
        a
    }
}

/// The `functions` output's entry for a function.
fn entry(r: &common::Run, name: &str) -> serde_json::Value {
    let all =
        r.json()["functions"].as_array().unwrap_or_else(|| panic!("`functions` is an array: {}", r.stdout)).clone();
    all.into_iter().find(|f| f["function-name"] == name).unwrap_or_else(|| panic!("no entry for {name}"))
}

fn arn(r: &common::Run, name: &str) -> String {
    entry(r, name)["version-arn"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_first_launch_reports_each_function_and_associates_it_at_its_event() {
    let m = Multi::start().await;
    let r = m.run(&[]);
    assert_eq!(r.code, 0);

    let (viewer, origin) = (arn(&r, VIEWER), arn(&r, ORIGIN));
    assert!(viewer.contains(&format!(":function:{VIEWER}:")), "{viewer}");
    assert!(origin.contains(&format!(":function:{ORIGIN}:")), "{origin}");
    assert_eq!(
        m.associated().await,
        vec![("origin-request".to_owned(), origin.clone()), ("viewer-request".to_owned(), viewer.clone())]
    );
    assert_eq!(m.c.lambda_versions(VIEWER).await.len(), 1);
    assert_eq!(m.c.lambda_versions(ORIGIN).await.len(), 1);
    // Each function's code from its own object, under its own key.
    for (name, parameter) in [(VIEWER, "ViewerObjectVersion"), (ORIGIN, "OriginObjectVersion")] {
        let objects = m.c.object_versions(BUCKET, &format!("{name}.zip")).await;
        assert_eq!(objects.len(), 1, "{name}");
        assert_eq!(m.c.stack_parameter(STACK, parameter).await, objects[0]);
        assert_eq!(entry(&r, name)["s3-version-id"], objects[0].as_str());
        assert_eq!(entry(&r, name)["changed"], true);
    }
    assert_eq!(m.c.stack_parameter(STACK, "ViewerArtifactKey").await, format!("{VIEWER}.zip"));
    // With `functions`, the single-function outputs stay empty.
    assert_eq!(r.out("version-arn"), "");
    assert_eq!(r.out("first-launch"), "true");
}

#[tokio::test]
async fn a_change_to_one_function_publishes_it_alone_in_one_stack_update() {
    let m = Multi::launched().await;
    let before = m.associated().await;
    let origin_versions = m.c.lambda_versions(ORIGIN).await;

    set_marker(m.viewer.path(), "v2");
    let r = m.run(&[("INPUT_TEMPLATE", "")]);
    assert_eq!(r.code, 0);

    assert_eq!(m.c.stack_updates(STACK).await, (1, 1), "one stack update, one distribution deployment");
    assert_eq!(m.c.lambda_versions(VIEWER).await.len(), 2, "a new viewer version");
    assert_eq!(m.c.lambda_versions(ORIGIN).await, origin_versions, "no new origin version");
    let viewer = arn(&r, VIEWER);
    let after = m.associated().await;
    assert_eq!(after[0], before[0], "the origin-request association is unchanged");
    assert_eq!(after[1], ("viewer-request".to_owned(), viewer.clone()));
    assert_eq!(m.c.stack_parameter(STACK, "ViewerVersion").await, viewer);
    assert_eq!(m.c.stack_parameter(STACK, "OriginVersion").await, before[0].1, "the launch's own version, now named");
    assert_eq!(m.c.stack_parameter(STACK, "FirstLaunch").await, "false");
    assert_eq!(
        (entry(&r, VIEWER)["changed"].clone(), entry(&r, ORIGIN)["changed"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(
        m.c.object_versions(BUCKET, &format!("{ORIGIN}.zip")).await.len(),
        1,
        "the origin's zip is not uploaded again"
    );
}

#[tokio::test]
async fn a_change_to_both_repoints_both_in_one_stack_update_and_previous_rolls_both_back() {
    let m = Multi::launched().await;
    let launched = m.associated().await;

    set_marker(m.viewer.path(), "v2");
    set_marker(m.origin.path(), "o2");
    let r = m.run(&[("INPUT_TEMPLATE", "")]);
    assert_eq!(r.code, 0);
    assert_eq!(m.c.stack_updates(STACK).await, (1, 1));
    let (viewer, origin) = (arn(&r, VIEWER), arn(&r, ORIGIN));
    assert_eq!(
        m.associated().await,
        vec![("origin-request".to_owned(), origin.clone()), ("viewer-request".to_owned(), viewer.clone())]
    );
    assert_ne!(launched[0].1, origin);
    assert_ne!(launched[1].1, viewer);

    // Unchanged code after that: nothing at all.
    let again = m.run(&[("INPUT_TEMPLATE", "")]);
    assert_eq!((again.code, again.out("changed")), (0, "false".to_owned()));
    assert_eq!(m.c.stack_updates(STACK).await, (1, 1));

    // `rollback-to: previous` puts every function back on the version before its live one, at once.
    let functions = format!("ViewerVersion={VIEWER}\nOriginVersion={ORIGIN}");
    let back =
        m.run(&[("INPUT_TEMPLATE", ""), ("INPUT_FUNCTIONS", functions.as_str()), ("INPUT_ROLLBACK_TO", "previous")]);
    assert_eq!(back.code, 0);
    assert_eq!(m.c.stack_updates(STACK).await, (2, 2));
    assert_eq!(m.associated().await, launched);
    assert_eq!(arn(&back, VIEWER), launched[1].1);
}

#[tokio::test]
async fn a_stack_of_several_functions_takes_a_release_of_one_once_all_were_released_together() {
    let m = Multi::launched().await;
    let launched = m.associated().await;
    let origin_only = format!("OriginVersion={ORIGIN}:{}", m.origin.path().display());
    set_marker(m.origin.path(), "o2");

    // Its first update sets every version parameter: a release of one function alone is refused.
    let r = m.run(&[("INPUT_TEMPLATE", ""), ("INPUT_FUNCTIONS", origin_only.as_str())]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("must release them all") && r.stderr.contains(VIEWER), "{}", r.stderr);
    assert_eq!(m.c.stack_updates(STACK).await, (0, 0));
    assert_eq!(m.c.lambda_versions(ORIGIN).await.len(), 1, "nothing published");

    // The same code and template, all functions: the update only sets FirstLaunch to false.
    set_marker(m.origin.path(), "o1");
    let all = m.run(&[]);
    assert_eq!((all.code, all.out("changed")), (0, "false".to_owned()), "bookkeeping: FirstLaunch to false");
    assert_eq!(m.associated().await, launched);

    set_marker(m.origin.path(), "o2");
    let one = m.run(&[("INPUT_TEMPLATE", ""), ("INPUT_FUNCTIONS", origin_only.as_str())]);
    assert_eq!(one.code, 0);
    let after = m.associated().await;
    assert_eq!(after[0], ("origin-request".to_owned(), arn(&one, ORIGIN)));
    assert_eq!(after[1], launched[1], "the viewer keeps its version (its parameter's previous value)");
    assert_eq!(m.c.stack_parameter(STACK, "ViewerObjectVersion").await, {
        m.c.object_versions(BUCKET, &format!("{VIEWER}.zip")).await[0].clone()
    });
}

#[tokio::test]
async fn bad_functions_are_input_errors_and_change_nothing() {
    let m = Multi::start().await;
    let (v, o) = (m.viewer.path().display().to_string(), m.origin.path().display().to_string());
    // (what is wrong, the inputs over the example's, what the error says)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "a parameter named twice",
            vec![("INPUT_FUNCTIONS", format!("ViewerVersion={VIEWER}:{v}\nViewerVersion={ORIGIN}:{o}"))],
            "parameter ViewerVersion is named twice",
        ),
        (
            "a function named twice",
            vec![("INPUT_FUNCTIONS", format!("ViewerVersion={VIEWER}:{v}\nOriginVersion={VIEWER}:{o}"))],
            "function site-viewer is named twice",
        ),
        (
            "a parameter the template does not declare",
            vec![("INPUT_FUNCTIONS", format!("ViewerVersion={VIEWER}:{v}\nEdgeVersion={ORIGIN}:{o}"))],
            "EdgeVersion",
        ),
        ("`functions` with `function-name`", vec![("INPUT_FUNCTION_NAME", "edge-fn".into())], "function-name"),
        ("`functions` with `source`", vec![("INPUT_SOURCE", v.clone())], "source"),
        ("`functions` with `version-parameter`", vec![("INPUT_VERSION_PARAMETER", "V".into())], "version-parameter"),
        (
            "a line without a source",
            vec![("INPUT_FUNCTIONS", format!("ViewerVersion={VIEWER}\nOriginVersion={ORIGIN}:{o}"))],
            "names no source",
        ),
    ];
    for (case, more, expect) in cases {
        let more: Vec<(&str, &str)> = more.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = m.run(&more);
        assert_eq!(r.code, 2, "{case}");
        assert!(r.stderr.contains(expect), "{case}: expected {expect:?} in\n{}", r.stderr);
        assert_eq!(m.c.stack_count().await, 0, "{case}: no stack");
        for name in [VIEWER, ORIGIN] {
            assert!(m.c.object_versions(BUCKET, &format!("{name}.zip")).await.is_empty(), "{case}: nothing uploaded");
        }
    }
}
