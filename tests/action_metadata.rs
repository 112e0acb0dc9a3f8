//! action.yml, the binary and the README describe the same inputs and outputs.
//!
//! The binary's tables (`inputs::INPUTS`, `report::OUTPUTS`) are the source of truth; action.yml must
//! repeat them name for name, flag for flag, default for default and word for word (GitHub shows those
//! descriptions in the Marketplace and in editors), and the README's Inputs and Outputs tables must
//! repeat action.yml. Order counts too, so that the three read alike.

use std::path::PathBuf;

use lambda_edge_deploy::inputs::INPUTS;
use lambda_edge_deploy::report::OUTPUTS;
use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// One input as action.yml declares it; `default` is `None` when the key is absent.
#[derive(Debug, PartialEq)]
struct Input {
    name: String,
    description: String,
    required: bool,
    default: Option<String>,
}

/// One output as action.yml or the README declares it.
#[derive(Debug, PartialEq)]
struct Output {
    name: String,
    description: String,
}

fn action() -> Yaml {
    let text = read("action.yml");
    let mut docs = YamlLoader::load_from_str(&text).expect("action.yml is YAML");
    assert_eq!(docs.len(), 1, "action.yml holds one document");
    docs.remove(0)
}

fn key_str(key: &Yaml) -> String {
    key.as_str().unwrap_or_else(|| panic!("a key that is not a string: {key:?}")).to_owned()
}

/// A scalar that must be a YAML string. A default written `true` or `90` would reach the runner
/// as the same text, but a quoted string is what the binary's table holds, so that is what we ask.
fn string(value: &Yaml, what: &str) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        other => panic!("{what} must be a string (quote it in action.yml), found {other:?}"),
    }
}

fn action_inputs(action: &Yaml) -> Vec<Input> {
    let inputs = action["inputs"].as_hash().expect("action.yml has an `inputs` mapping");
    inputs
        .iter()
        .map(|(k, v)| {
            let name = key_str(k);
            let spec = v.as_hash().unwrap_or_else(|| panic!("input `{name}` is a mapping"));
            for key in spec.keys() {
                let key = key_str(key);
                assert!(
                    ["description", "required", "default"].contains(&key.as_str()),
                    "input `{name}` has an unexpected key `{key}`"
                );
            }
            let required = match &v["required"] {
                Yaml::Boolean(b) => *b,
                other => panic!("input `{name}`: `required` must be true or false, found {other:?}"),
            };
            let default = match &v["default"] {
                Yaml::BadValue => None,
                value => Some(string(value, &format!("the default of input `{name}`"))),
            };
            Input {
                description: string(&v["description"], &format!("the description of `{name}`")),
                name,
                required,
                default,
            }
        })
        .collect()
}

fn action_outputs(action: &Yaml) -> Vec<Output> {
    let outputs = action["outputs"].as_hash().expect("action.yml has an `outputs` mapping");
    outputs
        .iter()
        .map(|(k, v)| {
            let name = key_str(k);
            let spec = v.as_hash().unwrap_or_else(|| panic!("output `{name}` is a mapping"));
            assert_eq!(
                spec.len(),
                1,
                "output `{name}` has only a description (a container action's outputs take no `value`)"
            );
            Output { description: string(&v["description"], &format!("the description of output `{name}`")), name }
        })
        .collect()
}

fn binary_inputs() -> Vec<Input> {
    INPUTS
        .iter()
        .map(|i| Input {
            name: i.name.to_owned(),
            description: i.description.to_owned(),
            required: i.required,
            // The table's "" means "no default": action.yml then has no `default` key at all, and the
            // runner passes an empty string, which the binary reads as unset.
            default: (!i.default.is_empty()).then(|| i.default.to_owned()),
        })
        .collect()
}

fn binary_outputs() -> Vec<Output> {
    OUTPUTS.iter().map(|o| Output { name: o.name.to_owned(), description: o.description.to_owned() }).collect()
}

/// Compares two lists item by item, naming the first difference, then their lengths.
fn assert_same<T: std::fmt::Debug + PartialEq>(left: &[T], right: &[T], left_name: &str, right_name: &str) {
    for (i, (l, r)) in left.iter().zip(right).enumerate() {
        assert_eq!(l, r, "entry {} differs between {left_name} (left) and {right_name} (right)", i + 1);
    }
    assert_eq!(
        left.len(),
        right.len(),
        "{left_name} has {} entries, {right_name} {}: {:?} vs {:?}",
        left.len(),
        right.len(),
        left.get(right.len()..).unwrap_or_default(),
        right.get(left.len()..).unwrap_or_default()
    );
}

/// The cells of a Markdown table row: `| a | b |` → `["a", "b"]`; `\|` stays inside a cell.
fn cells(row: &str) -> Vec<String> {
    let inner =
        row.trim().strip_prefix('|').and_then(|r| r.strip_suffix('|')).unwrap_or_else(|| panic!("not a row: {row}"));
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The body rows of the first table under the README heading `## {section}`.
fn readme_table(section: &str) -> Vec<Vec<String>> {
    let readme = read("README.md");
    let heading = format!("## {section}");
    let start =
        readme.lines().position(|l| l.trim_end() == heading).unwrap_or_else(|| panic!("README has no `{heading}`"));
    let mut lines =
        readme.lines().skip(start + 1).take_while(|l| !l.starts_with("## ")).skip_while(|l| !l.starts_with('|'));
    let header = lines.next().unwrap_or_else(|| panic!("no table under `{heading}`"));
    let rule = lines.next().unwrap_or_default();
    assert!(rule.starts_with("|---"), "the table under `{heading}` has a header row, then `|---|`: {header} / {rule}");
    lines.take_while(|l| l.starts_with('|')).map(cells).collect()
}

/// `` `name` `` → `name`
fn code(cell: &str, what: &str) -> String {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or_else(|| panic!("{what}: expected `…`, found {cell:?}"))
        .to_owned()
}

fn readme_inputs() -> Vec<Input> {
    readme_table("Inputs")
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 4, "an Inputs row is | `name` | yes/no | `default` | description |: {row:?}");
            let name = code(&row[0], "input name");
            let required = match row[1].as_str() {
                "yes" => true,
                "no" => false,
                other => panic!("input `{name}`: required is `yes` or `no`, found {other:?}"),
            };
            let default = (!row[2].is_empty()).then(|| code(&row[2], &format!("the default of `{name}`")));
            Input { name, description: row[3].clone(), required, default }
        })
        .collect()
}

fn readme_outputs() -> Vec<Output> {
    readme_table("Outputs")
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 2, "an Outputs row is | `name` | description |: {row:?}");
            Output { name: code(&row[0], "output name"), description: row[1].clone() }
        })
        .collect()
}

#[test]
fn action_inputs_are_the_binarys_inputs() {
    assert_same(&action_inputs(&action()), &binary_inputs(), "action.yml", "src/inputs.rs INPUTS");
}

#[test]
fn action_outputs_are_the_binarys_outputs() {
    assert_same(&action_outputs(&action()), &binary_outputs(), "action.yml", "src/report.rs OUTPUTS");
}

#[test]
fn readme_inputs_table_is_action_yml() {
    assert_same(&readme_inputs(), &action_inputs(&action()), "README.md ## Inputs", "action.yml");
}

#[test]
fn readme_outputs_table_is_action_yml() {
    assert_same(&readme_outputs(), &action_outputs(&action()), "README.md ## Outputs", "action.yml");
}

#[test]
fn input_names_are_kebab_case_and_distinct_as_environment_variables() {
    // The runner upper-cases names and keeps hyphens; the binary also accepts `_` for `-`. Two
    // names that meet there (`dry-run` and `dry_run`) would be one variable.
    let mut seen = std::collections::BTreeSet::new();
    for input in action_inputs(&action()) {
        let n = &input.name;
        assert!(
            !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "input `{n}` is not kebab-case"
        );
        assert!(seen.insert(n.to_ascii_uppercase().replace('-', "_")), "input `{n}` collides with another");
    }
}

#[test]
fn action_is_a_docker_action_with_name_description_and_branding() {
    let a = action();
    for key in ["name", "description"] {
        assert!(a[key].as_str().is_some_and(|s| !s.trim().is_empty()), "action.yml has a `{key}`");
    }
    assert!(a["branding"]["icon"].as_str().is_some_and(|s| !s.is_empty()), "branding.icon is set");
    assert!(a["branding"]["color"].as_str().is_some_and(|s| !s.is_empty()), "branding.color is set");
    assert_eq!(a["runs"]["using"].as_str(), Some("docker"), "a Docker container action");
    // Inputs reach the container as INPUT_* variables; `args` or `env` would pass them twice.
    assert!(a["runs"]["args"].is_badvalue() && a["runs"]["env"].is_badvalue(), "runs has no args or env");
}

#[test]
fn the_image_is_the_dockerfile_or_a_released_digest() {
    // In the repository `image: Dockerfile` (what `uses: ./` builds); on the commit the major tag
    // points to, the release workflow's rewrite to a pinned image (scripts/pin-action-image, on
    // the exact line `  image: Dockerfile`), so the line itself is checked, and the rewrite run.
    let a = action();
    let image = a["runs"]["image"].as_str().expect("runs.image is a string");
    let text = read("action.yml");
    if image == "Dockerfile" {
        let lines = text.lines().filter(|l| *l == "  image: Dockerfile").count();
        assert_eq!(lines, 1, "action.yml has the line `  image: Dockerfile` once (the release workflow rewrites it)");
        assert!(repo().join("Dockerfile").is_file(), "the Dockerfile that action.yml names exists");
        let release = read(".github/workflows/release.yml");
        assert!(
            release.contains("scripts/pin-action-image action.yml"),
            "the release workflow rewrites action.yml with scripts/pin-action-image"
        );
        // The rewrite itself, on a scratch copy: the pinned reference once, then refused.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("action.yml");
        std::fs::write(&copy, &text).unwrap();
        let reference = format!("ghcr.io/owner/lambda-edge-deploy@sha256:{}", "0".repeat(64));
        let pin = || {
            std::process::Command::new(repo().join("scripts/pin-action-image"))
                .arg(&copy)
                .arg(&reference)
                .output()
                .expect("run scripts/pin-action-image")
        };
        let first = pin();
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        let pinned = std::fs::read_to_string(&copy).unwrap();
        let yaml = &YamlLoader::load_from_str(&pinned).unwrap()[0];
        assert_eq!(yaml["runs"]["image"].as_str(), Some(format!("docker://{reference}").as_str()));
        assert_eq!(pinned.lines().count(), text.lines().count(), "one line changed, nothing else");
        let again = pin();
        assert_eq!(again.status.code(), Some(1), "an action.yml pinned already is refused");
    } else {
        let digest = image
            .strip_prefix("docker://ghcr.io/")
            .and_then(|rest| rest.split_once("/lambda-edge-deploy@sha256:"))
            .map(|(_, digest)| digest)
            .unwrap_or_else(|| panic!("runs.image is `Dockerfile` or docker://ghcr.io/<owner>/lambda-edge-deploy@sha256:<digest>, found {image}"));
        assert!(digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()), "a sha256 digest: {image}");
    }
}
