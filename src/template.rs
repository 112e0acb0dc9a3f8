//! Template: where the stack's template comes from and what it declares (parameters, resource types,
//! capabilities). CloudFormation's GetTemplateSummary tells, except for a template over 51,200 bytes,
//! which it reads only from S3: that one is read here, so that nothing is uploaded before preflight
//! has passed.

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::Client;
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{aws, Error, Result};
use crate::settings::Settings;

/// Templates larger than this cannot be sent inline (TemplateBody); they go through S3.
pub const MAX_INLINE_TEMPLATE: usize = 51_200;

/// Where the template for an operation comes from.
#[derive(Debug, Clone, Default)]
pub enum Template {
    Body(String),
    Url(String),
    /// A template over [`MAX_INLINE_TEMPLATE`] bytes, which CloudFormation reads only from S3: it is
    /// summarized here and uploaded once preflight has passed (see [`crate::artifact::upload_template`]).
    Large {
        body: String,
        key: String,
    },
    /// The stack's current template.
    #[default]
    Previous,
}

/// What the template declares: its parameters (with defaults) and resource types.
#[derive(Debug, Clone, Default)]
pub struct TemplateInfo {
    pub parameters: Vec<(String, Option<String>)>,
    /// AllowedValues of the parameters that declare them.
    pub allowed: Vec<(String, Vec<String>)>,
    pub resource_types: Vec<String>,
    /// The capabilities CloudFormation will ask for (CAPABILITY_IAM for IAM resources, ...).
    pub capabilities: Vec<String>,
}

impl TemplateInfo {
    pub fn declares(&self, key: &str) -> bool {
        self.parameters.iter().any(|(k, _)| k == key)
    }

    pub fn has_resource(&self, kind: &str) -> bool {
        self.resource_types.iter().any(|t| t == kind)
    }
}

/// Asks CloudFormation what the template declares (so only declared parameters are passed). A
/// template too large to send inline is read here instead, so that nothing is uploaded before
/// preflight has passed.
pub async fn summarize(cfn: &Client, template: &Template, stack_name: &str) -> Result<TemplateInfo> {
    let req = cfn.get_template_summary();
    let req = match template {
        Template::Body(b) => req.template_body(b),
        Template::Url(u) => req.template_url(u),
        Template::Large { body, .. } => return summarize_text(body),
        Template::Previous => req.stack_name(stack_name),
    };
    let out = req.send().await.map_err(|e| {
        if e.code() == Some("ValidationError") {
            let msg = e.message().unwrap_or_default().to_owned();
            Error::precondition(
                format!("CloudFormation rejects the template: {msg}"),
                "Fix the template (cfn-lint finds most problems locally) and run again.",
            )
        } else {
            aws("GetTemplateSummary")(e)
        }
    })?;
    Ok(TemplateInfo {
        parameters: out
            .parameters()
            .iter()
            .map(|p| (p.parameter_key().unwrap_or_default().to_owned(), p.default_value().map(str::to_owned)))
            .collect(),
        allowed: out
            .parameters()
            .iter()
            .filter_map(|p| {
                let values = p.parameter_constraints()?.allowed_values();
                (!values.is_empty()).then(|| (p.parameter_key().unwrap_or_default().to_owned(), values.to_vec()))
            })
            .collect(),
        resource_types: out.resource_types().to_vec(),
        capabilities: out.capabilities().iter().map(|c| c.as_str().to_owned()).collect(),
    })
}

/// The template the stack runs now, as it was submitted.
pub async fn template_body(cfn: &Client, stack: &str) -> Result<String> {
    let out = cfn
        .get_template()
        .stack_name(stack)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
        .map_err(aws(format!("GetTemplate {stack}")))?;
    Ok(out.template_body().unwrap_or_default().to_owned())
}

/// Whether two template texts are the same template: byte for byte, or as JSON values (CloudFormation
/// may give a JSON template back formatted differently from how it was sent).
pub fn same_template(a: &str, b: &str) -> bool {
    if a.trim() == b.trim() {
        return true;
    }
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The template must declare the first-launch parameter and each function's version parameter.
pub fn require_parameters(settings: &Settings, info: &TemplateInfo, version_parameters: &[&str]) -> Result<()> {
    let missing: Vec<&str> = std::iter::once(settings.first_launch_parameter.as_str())
        .chain(version_parameters.iter().copied())
        .filter(|p| !info.declares(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let fix = match settings.several {
        true => "Declare the first-launch parameter and each version parameter `functions` names (see examples/multi/template.yaml), or fix the names in `functions` and `first-launch-parameter`.",
        false => "Declare the first-launch and version parameters in the template (see examples/template.yaml), or name yours with `first-launch-parameter` and `version-parameter`.",
    };
    Err(Error::precondition(format!("the template declares no parameter {}", missing.join(" or ")), fix))
}

/// The template's capabilities must be among `capabilities` (CAPABILITY_NAMED_IAM covers
/// CAPABILITY_IAM), or CloudFormation refuses the operation after the upload and the publish.
pub fn require_capabilities(settings: &Settings, info: &TemplateInfo) -> Result<()> {
    let given = |c: &str| {
        settings.capabilities.iter().any(|g| g == c || (c == "CAPABILITY_IAM" && g == "CAPABILITY_NAMED_IAM"))
    };
    let missing: Vec<&str> = info.capabilities.iter().map(String::as_str).filter(|c| !given(c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::precondition(
        format!("the template needs {}, which `capabilities` does not give", missing.join(" and ")),
        format!("Add {} to `capabilities` (comma-separated).", missing.join(", ")),
    ))
}

/// The template's parameters (default, AllowedValues) and resource types, from its JSON or YAML
/// text. CloudFormation's short-form intrinsics (`!Ref`, `!If`) read as plain values, which is all
/// the parameters and types need.
pub fn summarize_text(body: &str) -> Result<TemplateInfo> {
    let doc = parse(body)?;
    let mut info = TemplateInfo::default();
    if let Some(Yaml::Hash(parameters)) = field(&doc, "Parameters") {
        for (key, slot) in parameters {
            let Some(key) = key.as_str() else { continue };
            info.parameters.push((key.to_owned(), field(slot, "Default").and_then(scalar)));
            if let Some(Yaml::Array(values)) = field(slot, "AllowedValues") {
                info.allowed.push((key.to_owned(), values.iter().filter_map(scalar).collect()));
            }
        }
    }
    if let Some(Yaml::Hash(resources)) = field(&doc, "Resources") {
        for resource in resources.values() {
            let Some(kind) = field(resource, "Type").and_then(Yaml::as_str) else { continue };
            if !info.resource_types.iter().any(|t| t == kind) {
                info.resource_types.push(kind.to_owned());
            }
            // As CloudFormation decides them: IAM resources need CAPABILITY_IAM, and with a name
            // of their own CAPABILITY_NAMED_IAM.
            if kind.starts_with("AWS::IAM::") {
                let properties = field(resource, "Properties");
                let named = NAME_PROPERTIES.iter().any(|p| properties.and_then(|r| field(r, p)).is_some());
                add(&mut info.capabilities, if named { "CAPABILITY_NAMED_IAM" } else { "CAPABILITY_IAM" });
            }
        }
    }
    if field(&doc, "Transform").is_some() {
        add(&mut info.capabilities, "CAPABILITY_AUTO_EXPAND");
    }
    if info.resource_types.is_empty() {
        return Err(rejected("it declares no Resources"));
    }
    Ok(info)
}

/// The properties that give an IAM resource a name of its own.
const NAME_PROPERTIES: &[&str] = &["RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName"];

fn add(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|i| i == item) {
        list.push(item.to_owned());
    }
}

fn parse(body: &str) -> Result<Yaml> {
    // JSON is YAML too, but serde_json's errors say where a JSON template is broken.
    if body.trim_start().starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(body).map_err(|e| rejected(&e.to_string()))?;
        return Ok(from_json(&json));
    }
    let mut docs = YamlLoader::load_from_str(body).map_err(|e| rejected(&e.to_string()))?;
    match docs.len() {
        1 => Ok(docs.remove(0)),
        n => Err(rejected(&format!("it holds {n} YAML documents, not one"))),
    }
}

fn from_json(v: &serde_json::Value) -> Yaml {
    use serde_json::Value;
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => Yaml::Real(n.to_string()),
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(from_json).collect()),
        Value::Object(map) => Yaml::Hash(map.iter().map(|(k, v)| (Yaml::String(k.clone()), from_json(v))).collect()),
    }
}

fn field<'a>(node: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    match node {
        Yaml::Hash(map) => map.get(&Yaml::String(key.to_owned())),
        _ => None,
    }
}

/// A scalar as CloudFormation takes a parameter value: its text.
fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn rejected(why: &str) -> Error {
    Error::precondition(
        format!("the template cannot be read: {why}"),
        "Fix the template (cfn-lint finds most problems locally) and run again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/template.yaml")).unwrap()
    }

    #[test]
    fn the_example_reads_as_cloudformation_summarizes_it() {
        let info = summarize_text(&example()).unwrap();
        let names: Vec<&str> = info.parameters.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "FirstLaunch",
                "LambdaVersion",
                "FunctionName",
                "ArtifactBucket",
                "ArtifactKey",
                "ArtifactObjectVersion",
                "OriginDomainName"
            ]
        );
        assert_eq!(info.parameters[0].1.as_deref(), Some("true"));
        assert_eq!(info.parameters[1].1.as_deref(), Some("NONE"));
        assert_eq!(info.parameters[2].1, None);
        assert_eq!(info.allowed, vec![("FirstLaunch".to_string(), vec!["true".to_string(), "false".to_string()])]);
        for kind in ["AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Lambda::Version", "AWS::CloudFront::Distribution"]
        {
            assert!(info.has_resource(kind), "{kind}: {:?}", info.resource_types);
        }
        assert_eq!(info.capabilities, ["CAPABILITY_IAM"]);
        let named = example().replace(
            "    Type: AWS::IAM::Role\n    Properties:\n",
            "    Type: AWS::IAM::Role\n    Properties:\n      RoleName: edge\n",
        );
        assert_eq!(summarize_text(&named).unwrap().capabilities, ["CAPABILITY_NAMED_IAM"]);
    }

    #[test]
    fn json_templates_read_the_same() {
        let body = r#"{"Parameters": {"FirstLaunch": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"]},
            "Size": {"Type": "Number", "Default": 3}},
            "Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {}}}}"#;
        let info = summarize_text(body).unwrap();
        assert_eq!(
            info.parameters,
            vec![("FirstLaunch".into(), Some("true".into())), ("Size".into(), Some("3".into()))]
        );
        assert!(info.has_resource("AWS::Lambda::Function"));
    }

    #[test]
    fn broken_templates_are_a_precondition_naming_the_problem() {
        for (body, says) in [
            ("Resources: [unclosed", "cannot be read"),
            ("{\"Resources\": ", "cannot be read"),
            ("Parameters: {}\n", "no Resources"),
            ("a: 1\n---\nb: 2\n", "2 YAML documents"),
        ] {
            let e = summarize_text(body).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{body}");
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
    }

    #[test]
    fn templates_compare_by_text_or_as_json() {
        assert!(same_template("a: 1\n", "a: 1"));
        assert!(same_template(r#"{"a": [1, 2]}"#, "{\n  \"a\": [1,2]\n}"));
        assert!(!same_template("a: 1", "a: 2"));
    }
}
