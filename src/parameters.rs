//! Parameters: the value of each parameter the template declares, decided from the inputs, what the
//! release knows (the version, the code's object) and what the stack has now. Pure: the plan uses it
//! to refuse a release CloudFormation would refuse, before anything is written.

use crate::error::{Error, Result};
use crate::settings::{EdgeFunction, Settings};
use crate::stack::StackInfo;
use crate::template::TemplateInfo;

/// A value for one declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    Value(String, String),
    /// Keep what the stack has now.
    Previous(String),
}

/// What the tool knows and fills in, when the template declares the parameter.
#[derive(Debug, Clone, Default)]
pub struct Fill {
    pub first_launch: bool,
    /// Every function of the release.
    pub functions: Vec<FunctionFill>,
    /// Values the run sets itself and `parameters` may not (a staged release's canary), first.
    pub fixed: Vec<(String, String)>,
}

/// One function's values.
#[derive(Debug, Clone, Default)]
pub struct FunctionFill {
    /// The parameter that takes its version ARN.
    pub parameter: String,
    pub name: String,
    /// None at first launch, where the stack publishes the version itself.
    pub version_arn: Option<String>,
    /// The object version of its code uploaded by this run; None keeps the stack's.
    pub object_version: Option<String>,
}

impl Fill {
    /// The first launch: every function from its uploaded object, the stack publishing the versions.
    pub fn launch(functions: &[EdgeFunction], objects: &[Option<String>]) -> Fill {
        let functions = functions
            .iter()
            .zip(objects.iter().chain(std::iter::repeat(&None)))
            .map(|(f, object)| FunctionFill {
                parameter: f.parameter.clone(),
                name: f.name.clone(),
                version_arn: None,
                object_version: object.clone(),
            })
            .collect();
        Fill { first_launch: true, functions, fixed: Vec::new() }
    }
}

/// The parameters a function's values go to besides its version parameter: for a version parameter
/// `<Base>Version`, `<Base>FunctionName`, `<Base>ArtifactKey` and `<Base>ObjectVersion`, so that a
/// template of several functions can take each one's name and code (see examples/multi). A release
/// of one function alone also fills `FunctionName`, `ArtifactKey` and `ArtifactObjectVersion`.
fn base_of(parameter: &str) -> Option<&str> {
    parameter.strip_suffix("Version").filter(|b| !b.is_empty())
}

/// Decides each declared parameter's value: `parameters` wins; then the first-launch and version
/// parameters; then each function's name and code object, and the artifact bucket; then the stack's
/// previous value; else the template's default. Returns the parameters to pass, or the problems.
pub fn parameters(
    settings: &Settings,
    template: &TemplateInfo,
    current: Option<&StackInfo>,
    fill: &Fill,
) -> Result<Vec<ParamValue>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (given, _) in &settings.parameters {
        if !template.declares(given) {
            problems.push(format!("`parameters` sets {given}, which the template does not declare"));
        }
    }
    // Without a new object (a rollback), the stack keeps each code's bucket, key and version together.
    let object = fill.functions.iter().any(|f| f.object_version.is_some());
    let alone = match fill.functions.as_slice() {
        [one] if !settings.several => Some(one),
        _ => None,
    };
    for (key, default) in &template.parameters {
        let value = |v: &str| Some(ParamValue::Value(key.clone(), v.to_owned()));
        let derived = |f: &FunctionFill| {
            let base = base_of(&f.parameter)?;
            let field = key.strip_prefix(base)?;
            match field {
                "FunctionName" => value(&f.name),
                "ArtifactKey" if f.object_version.is_some() => value(&settings.artifact_key(&f.name)),
                "ObjectVersion" => f.object_version.as_deref().and_then(value),
                _ => None,
            }
        };
        let chosen = if let Some((_, v)) = fill.fixed.iter().find(|(k, _)| k == key) {
            value(v)
        } else if let Some((_, v)) = settings.parameters.iter().find(|(k, _)| k == key) {
            value(v)
        } else if *key == settings.first_launch_parameter {
            value(if fill.first_launch { "true" } else { "false" })
        } else if let Some(f) = fill.functions.iter().find(|f| f.parameter == *key) {
            match (&f.version_arn, default) {
                (Some(arn), _) => value(arn),
                (None, Some(_)) => None,
                (None, None) => value("NONE"),
            }
        } else if let Some(v) = fill.functions.iter().find_map(derived) {
            Some(v)
        } else {
            match (key.as_str(), alone) {
                ("FunctionName", Some(f)) => value(&f.name),
                ("ArtifactKey", Some(f)) if object => value(&settings.artifact_key(&f.name)),
                ("ArtifactObjectVersion", Some(f)) => f.object_version.as_deref().and_then(value),
                ("ArtifactBucket", _) if object => value(&settings.artifact_bucket),
                _ => None,
            }
        };
        let chosen =
            chosen.or_else(|| current.and_then(|s| s.parameter(key)).map(|_| ParamValue::Previous(key.clone())));
        match (chosen, default) {
            (Some(p), _) => out.push(p),
            (None, Some(_)) => {}
            (None, None) => problems.push(format!("the template's parameter {key} has no default and no value")),
        }
    }
    // A value CloudFormation would refuse fails now, not after the upload and the publish.
    for p in &out {
        if let ParamValue::Value(key, value) = p {
            if let Some((_, allowed)) = template.allowed.iter().find(|(k, _)| k == key) {
                if !allowed.contains(value) {
                    problems.push(format!(
                        "{key}={value} is not one of the template's AllowedValues ({})",
                        allowed.join(", ")
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::precondition(
            problems.join("; "),
            "Correct `parameters` (Key=Value): give each missing value, remove the ones the template does not declare, keep values within AllowedValues.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::read;
    use crate::settings::validate;

    fn settings(params: &str) -> Settings {
        let dir = std::env::temp_dir();
        let vars = [
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_ARTIFACT-PREFIX", "rel/"),
            ("INPUT_SOURCE", dir.to_str().unwrap()),
            ("INPUT_PARAMETERS", params),
        ];
        validate(read(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap().0).unwrap()
    }

    fn template(keys: &[(&str, Option<&str>)]) -> TemplateInfo {
        TemplateInfo {
            parameters: keys.iter().map(|(k, d)| (k.to_string(), d.map(str::to_owned))).collect(),
            ..Default::default()
        }
    }

    fn v(k: &str, val: &str) -> ParamValue {
        ParamValue::Value(k.into(), val.into())
    }

    #[test]
    fn release_fills_known_parameters_and_keeps_the_rest() {
        let t = template(&[
            ("FirstLaunch", Some("true")),
            ("LambdaVersion", Some("NONE")),
            ("FunctionName", None),
            ("ArtifactBucket", None),
            ("ArtifactKey", None),
            ("ArtifactObjectVersion", Some("")),
            ("OriginDomainName", Some("example.com")),
            ("Unset", Some("d")),
        ]);
        let current =
            StackInfo { parameters: vec![("OriginDomainName".into(), "example.org".into())], ..Default::default() };
        let fill = Fill {
            first_launch: false,
            functions: vec![FunctionFill {
                parameter: "LambdaVersion".into(),
                name: "edge".into(),
                version_arn: Some("arn:v:3".into()),
                object_version: Some("ov1".into()),
            }],
            // A staged release's own values, which a default would otherwise decide.
            fixed: vec![("Unset".into(), "set".into())],
        };
        let p = parameters(&settings(""), &t, Some(&current), &fill).unwrap();
        assert_eq!(
            p,
            vec![
                v("FirstLaunch", "false"),
                v("LambdaVersion", "arn:v:3"),
                v("FunctionName", "edge"),
                v("ArtifactBucket", "artifacts"),
                v("ArtifactKey", "rel/edge.zip"),
                v("ArtifactObjectVersion", "ov1"),
                ParamValue::Previous("OriginDomainName".into()),
                v("Unset", "set"),
            ]
        );
    }

    #[test]
    fn first_launch_leaves_the_version_to_its_default_and_given_parameters_win() {
        let t = template(&[("FirstLaunch", Some("true")), ("LambdaVersion", Some("NONE")), ("FunctionName", None)]);
        let s = settings("FunctionName=other");
        let fill = Fill::launch(&s.functions, &[]);
        let p = parameters(&s, &t, None, &fill).unwrap();
        assert_eq!(p, vec![v("FirstLaunch", "true"), v("FunctionName", "other")]);
    }

    #[test]
    fn undeclared_and_missing_parameters_are_reported_together() {
        let t = template(&[("FirstLaunch", Some("true")), ("LambdaVersion", None), ("Needed", None)]);
        let err =
            parameters(&settings("Typo=1"), &t, None, &Fill { first_launch: true, ..Default::default() }).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.exit_code(), 2);
        assert!(text.contains("Typo") && text.contains("Needed"), "{text}");
    }

    #[test]
    fn values_outside_allowed_values_fail_before_any_write() {
        let mut t = template(&[("FirstLaunch", Some("true")), ("LambdaVersion", Some("NONE")), ("Tier", Some("a"))]);
        t.allowed =
            vec![("FirstLaunch".into(), vec!["true".into(), "false".into()]), ("Tier".into(), vec!["a".into()])];
        let fill = Fill { first_launch: true, ..Default::default() };
        assert!(parameters(&settings(""), &t, None, &fill).is_ok());
        let err = parameters(&settings("Tier=b"), &t, None, &fill).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("Tier=b is not one of the template's AllowedValues (a)"), "{err}");
    }
}
