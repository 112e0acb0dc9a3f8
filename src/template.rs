//! Template: what a stack template declares, read here when it is too large for CloudFormation's
//! GetTemplateSummary inline (51,200 bytes). That call would need the template in S3 first, which is
//! a write before preflight has passed; the parameters and resource types are all preflight needs.

use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};
use crate::stack::TemplateInfo;

/// The template's parameters (default, AllowedValues) and resource types, from its JSON or YAML
/// text. CloudFormation's short-form intrinsics (`!Ref`, `!If`) read as plain values, which is all
/// the parameters and types need.
pub fn summarize(body: &str) -> Result<TemplateInfo> {
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
        let info = summarize(&example()).unwrap();
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
        assert_eq!(summarize(&named).unwrap().capabilities, ["CAPABILITY_NAMED_IAM"]);
    }

    #[test]
    fn json_templates_read_the_same() {
        let body = r#"{"Parameters": {"FirstLaunch": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"]},
            "Size": {"Type": "Number", "Default": 3}},
            "Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {}}}}"#;
        let info = summarize(body).unwrap();
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
            let e = summarize(body).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{body}");
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
    }
}
