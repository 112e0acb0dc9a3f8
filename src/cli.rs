//! The command line: one flag per input, generated from the same table as action.yml
//! ([`crate::inputs::INPUTS`]), so that a laptop and a GitHub runner configure the same things. A
//! flag wins over its `INPUT_*` variable. `--help` and `--version` answer without touching AWS, and
//! an argument that is not a flag of ours is an input error (exit 2), never ignored.

use std::ffi::OsString;

use clap::{Arg, ArgAction, Command};

use crate::error::{Error, InputProblem, Result};
use crate::inputs::{env_key, InputSpec, INPUTS};

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// A run, with the environment's variables and the flags as `INPUT_*` variables over them.
    Run(Vec<(OsString, OsString)>),
    /// Text for stdout, and nothing else: `--help`, `--version`.
    Print(String),
}

/// Inputs whose value is a list: a flag given several times adds a line each.
const LISTS: &[&str] = &["functions", "parameters", "tags", "invalidation-paths", "check-header", "capabilities"];

fn is_boolean(input: &InputSpec) -> bool {
    matches!(input.default, "true" | "false")
}

fn command() -> Command {
    let mut command = Command::new("lambda-edge-deploy")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Releases an AWS Lambda@Edge function through CloudFormation in one step.")
        .long_about(
            "Releases an AWS Lambda@Edge function through CloudFormation in one step: packages the code, \
             uploads it to a versioned S3 bucket, publishes a numbered version, points the stack (and so the \
             CloudFront distribution) at it, waits for both, and verifies.\n\n\
             Every option is also an environment variable INPUT_<NAME> (hyphens or underscores), as a GitHub \
             runner passes the action's inputs; an option wins over its variable. Credentials come from the \
             AWS chain (environment, AWS_PROFILE, SSO, instance roles). The result is one JSON object on stdout.",
        )
        .after_help("Exit codes: 0 released (or nothing to do), 1 the release failed in AWS, 2 nothing was changed (invalid input, an unmet precondition, no credentials, AWS unreachable), 3 timed out, 130 interrupted.")
        .max_term_width(100);
    for input in INPUTS {
        let mut help = input.description.to_owned();
        if !input.default.is_empty() {
            help.push_str(&format!(" [default: {}]", input.default));
        }
        if input.required {
            help.push_str(" [required]");
        }
        help.push_str(&format!(" [env: INPUT_{}]", env_key(input.name)));
        let mut arg = Arg::new(input.name).long(input.name).help(help).value_parser(clap::value_parser!(OsString));
        arg = if is_boolean(input) {
            // `--dry-run` alone is `--dry-run true`.
            arg.value_name("true|false").num_args(0..=1).default_missing_value("true").action(ArgAction::Set)
        } else if LISTS.contains(&input.name) {
            arg.value_name("VALUE").action(ArgAction::Append)
        } else {
            arg.value_name("VALUE").action(ArgAction::Set)
        };
        command = command.arg(arg);
    }
    command
}

/// Reads the arguments (without the program's name) over the environment's variables.
pub fn parse(args: Vec<OsString>, vars: Vec<(OsString, OsString)>) -> Result<Invocation> {
    let program = OsString::from("lambda-edge-deploy");
    let matches = match command().try_get_matches_from(std::iter::once(program).chain(args)) {
        Ok(m) => m,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            return Ok(Invocation::Print(e.render().to_string()));
        }
        Err(e) => {
            let text = e.render().to_string();
            // clap's first line says what is wrong, its tip the nearest flag; its usage line goes.
            let said: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .collect();
            let problem = said.join(" ").trim_start_matches("error: ").to_owned();
            return Err(Error::Inputs(vec![InputProblem { input: "arguments", problem }]));
        }
    };
    let mut flags: Vec<(String, OsString)> = Vec::new();
    for input in INPUTS {
        let Some(values) = matches.get_many::<OsString>(input.name) else { continue };
        let values: Vec<&OsString> = values.collect();
        let mut joined = OsString::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                joined.push("\n");
            }
            joined.push(v);
        }
        flags.push((env_key(input.name), joined));
    }
    // A flag replaces every spelling of its variable.
    let mut merged: Vec<(OsString, OsString)> = vars
        .into_iter()
        .filter(|(name, _)| {
            let key = name.to_str().and_then(|n| n.strip_prefix("INPUT_")).map(env_key);
            !key.is_some_and(|k| flags.iter().any(|(f, _)| *f == k))
        })
        .collect();
    merged.extend(flags.into_iter().map(|(key, value)| (OsString::from(format!("INPUT_{key}")), value)));
    Ok(Invocation::Run(merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], vars: &[(&str, &str)]) -> Vec<(String, String)> {
        let args = args.iter().map(OsString::from).collect();
        let vars = vars.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect();
        match parse(args, vars).unwrap() {
            Invocation::Run(v) => {
                v.into_iter().map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap())).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    fn value<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
        vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_input_is_a_flag_and_the_flag_is_the_same_input() {
        for input in INPUTS {
            let key = format!("INPUT_{}", env_key(input.name));
            let given = if is_boolean(input) { "true" } else { "x" };
            let vars = run(&[&format!("--{}", input.name), given], &[]);
            assert_eq!(value(&vars, &key), Some(given), "--{}", input.name);
        }
    }

    #[test]
    fn a_flag_wins_over_every_spelling_of_its_variable() {
        let vars = run(
            &["--stack-name", "from-flag"],
            &[("INPUT_STACK-NAME", "from-runner"), ("INPUT_STACK_NAME", "from-shell"), ("INPUT_REGION", "us-east-1")],
        );
        let stacks: Vec<&str> =
            vars.iter().filter(|(k, _)| k.starts_with("INPUT_STACK")).map(|(_, v)| v.as_str()).collect();
        assert_eq!(stacks, ["from-flag"]);
        assert_eq!(value(&vars, "INPUT_REGION"), Some("us-east-1"), "other variables stay");
    }

    /// A value for each input that is valid over `base` (and differs from its default).
    fn sample(name: &str) -> String {
        let template = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/template.yaml");
        match name {
            "function-name" => "other-fn",
            "functions" => concat!("LambdaVersion=edge:", env!("CARGO_MANIFEST_DIR"), "/examples/edge-function"),
            "stack-name" => "other-stack",
            "artifact-bucket" => "other-bucket",
            "source" => env!("CARGO_MANIFEST_DIR"),
            "artifact-prefix" => "releases/",
            "template" => template,
            "template-url" => "https://other-bucket.s3.us-east-1.amazonaws.com/t.yaml",
            "parameters" => "OriginDomainName=example.org",
            "first-launch-parameter" => "Launch",
            "version-parameter" => "Version",
            "capabilities" => "CAPABILITY_NAMED_IAM",
            "tags" => "team=web",
            "distribution-id" => "E2EXAMPLE",
            "region" => "us-east-1",
            "wait" => "false",
            "timeout" => "5m",
            "invalidation-paths" => "/index.html",
            "force" | "dry-run" | "recreate-failed-stack" | "rollback-on-failure" => "true",
            "expected-bucket-owner" => "123456789012",
            "on-interrupt" => "cancel",
            "check-url" => "https://example.org/",
            "check-status" => "204",
            "check-header" => "x-release: ^2$",
            "check-body" => "hello",
            "check-timeout" => "30s",
            "rollback-to" => "previous",
            "keep-versions" => "3",
            "mode" => "plan",
            "change-set-id" => "arn:aws:cloudformation:us-east-1:123456789012:changeSet/lambda-edge-deploy-1/0a1b",
            "allow-drift" => "true",
            "prune-only" => "true",
            "exclude" => "*.map",
            "role-arn" => "arn:aws:iam::123456789012:role/cfn-deploy",
            "notification-arns" => "arn:aws:sns:us-east-1:123456789012:stack-events",
            "log-format" => "json",
            "strategy" => "staged",
            "canary-header" => "aws-cf-cd-beta",
            "canary-header-value" => "yes",
            "canary-weight" => "0.1",
            "bake-time" => "10m",
            "max-error-rate" => "2",
            "promote" => "false",
            other => panic!("no sample value for input `{other}`: add one"),
        }
        .to_owned()
    }

    /// The settings the binary would run with, or its input error, as text to compare.
    fn settings_of(vars: Vec<(OsString, OsString)>) -> String {
        let read = crate::inputs::read(vars).and_then(|(raw, _)| crate::settings::validate(raw));
        format!("{read:?}")
    }

    #[test]
    fn each_flag_is_the_same_input_as_its_variable() {
        let base: Vec<(OsString, OsString)> = [
            ("INPUT_FUNCTION_NAME", "edge"),
            ("INPUT_STACK_NAME", "site"),
            ("INPUT_ARTIFACT_BUCKET", "artifacts"),
            ("INPUT_SOURCE", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/edge-function")),
            ("INPUT_CHECK_URL", "https://example.com/"),
        ]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
        let unchanged = settings_of(base.clone());
        for input in INPUTS {
            // Inputs that refuse another one of the base are given alone with what they need.
            let mut over = base.clone();
            match input.name {
                "rollback-to" => over.retain(|(k, _)| k != "INPUT_SOURCE"),
                "wait" => over.retain(|(k, _)| k != "INPUT_CHECK_URL"),
                "functions" => over.retain(|(k, _)| k != "INPUT_SOURCE" && k != "INPUT_FUNCTION_NAME"),
                "mode" => over.retain(|(k, _)| k != "INPUT_CHECK_URL"),
                "change-set-id" => {
                    over.retain(|(k, _)| k != "INPUT_SOURCE");
                    over.push(("INPUT_MODE".into(), "execute".into()));
                }
                "prune-only" => {
                    over.retain(|(k, _)| k != "INPUT_SOURCE" && k != "INPUT_CHECK_URL");
                    over.push(("INPUT_KEEP_VERSIONS".into(), "2".into()));
                }
                "canary-header" | "canary-header-value" | "promote" => {
                    over.push(("INPUT_STRATEGY".into(), "staged".into()));
                }
                "canary-weight" | "max-error-rate" => {
                    over.push(("INPUT_STRATEGY".into(), "staged".into()));
                    over.push(("INPUT_BAKE_TIME".into(), "5m".into()));
                }
                "bake-time" => over.push(("INPUT_STRATEGY".into(), "staged".into())),
                _ => {}
            }
            let value = sample(input.name);
            let Invocation::Run(by_flag) =
                parse(vec![format!("--{}", input.name).into(), value.clone().into()], over.clone()).unwrap()
            else {
                panic!()
            };
            let key = OsString::from(format!("INPUT_{}", env_key(input.name)));
            let mut by_variable = over.clone();
            by_variable.retain(|(k, _)| *k != key);
            by_variable.push((key, value.into()));
            let (flag, variable) = (settings_of(by_flag), settings_of(by_variable));
            assert_eq!(flag, variable, "--{}", input.name);
            assert!(flag.starts_with("Ok("), "--{}: {flag}", input.name);
            if input.name != "region" {
                assert_ne!(flag, unchanged, "--{} changed nothing", input.name);
            }
        }
    }

    #[test]
    fn booleans_alone_are_true_and_lists_add_a_line_each() {
        let vars = run(&["--dry-run", "--wait=false", "--parameters", "A=1", "--parameters", "B=x,y"], &[]);
        assert_eq!(value(&vars, "INPUT_DRY_RUN"), Some("true"));
        assert_eq!(value(&vars, "INPUT_WAIT"), Some("false"));
        assert_eq!(value(&vars, "INPUT_PARAMETERS"), Some("A=1\nB=x,y"));
    }

    #[test]
    fn help_and_version_print_and_name_every_input() {
        let Ok(Invocation::Print(help)) = parse(vec!["--help".into()], Vec::new()) else { panic!() };
        for input in INPUTS {
            assert!(help.contains(&format!("--{}", input.name)), "--{} is not in --help", input.name);
            assert!(help.contains(&format!("INPUT_{}", env_key(input.name))), "{}", input.name);
        }
        assert!(help.contains("[default: 90m]"), "{help}");
        let Ok(Invocation::Print(version)) = parse(vec!["--version".into()], Vec::new()) else { panic!() };
        assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    }

    #[test]
    fn an_unknown_argument_is_an_input_error_with_the_nearest_flag() {
        for (args, says) in [
            (vec!["--dry-runn"], "--dry-run"),
            (vec!["deploy"], "unexpected argument 'deploy'"),
            (vec!["--stack-name"], "a value is required"),
        ] {
            let args = args.into_iter().map(OsString::from).collect();
            let Err(Error::Inputs(p)) = parse(args, Vec::new()) else { panic!("{says}") };
            assert_eq!(p[0].input, "arguments");
            assert!(p[0].problem.contains(says), "{says}: {p:?}");
        }
    }
}
