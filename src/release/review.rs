//! Review: `mode: plan` stops where a release would update (or create) the stack and leaves a
//! change set to review instead; `mode: execute` runs that change set, then settles and checks the
//! distribution exactly as a release does.

use super::{since_now, Release};
use crate::changeset::{self, ChangeSet};
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::log;
use crate::parameters::ParamValue;
use crate::preflight;
use crate::stack::{self, Operation, StackInfo};
use crate::template::Template;

impl Release<'_> {
    /// The version parameters of the release, for the change set's review order.
    fn version_parameters(&self) -> Vec<&str> {
        self.settings.functions.iter().map(|f| f.parameter.as_str()).collect()
    }

    /// Creates the change set of the stack operation the release would make, waits for it, and
    /// reports it (outputs, summary, log; a replaced distribution or function as a warning). A
    /// change set that changes nothing is deleted.
    pub(super) async fn plan_change_set(
        &mut self,
        stack: Option<&StackInfo>,
        template: &Template,
        params: &[ParamValue],
    ) -> Result<()> {
        let (s, c) = (self.settings, self.clients);
        self.phases.start("Change set");
        let template = preflight::upload_large_template(s, c, template).await?;
        let name = changeset::new_name();
        let token = stack::new_token("plan");
        let id = changeset::create(&c.cloudformation, s, &name, &template, params, stack.is_none(), &token).await?;
        log::info(&format!("creating change set {name} for stack {}", s.stack_name));
        let set = changeset::wait_created(&c.cloudformation, self.poll, &id).await?;
        let before = stack.map(|st| st.parameters.clone()).unwrap_or_default();
        let parameters = changeset::parameter_changes(&before, params, &self.version_parameters());
        self.report_plan(&set, &parameters);
        if set.is_empty() {
            log::info(&format!("change set {name} changes nothing ({}): deleting it", set.reason));
            changeset::delete(&c.cloudformation, &id).await?;
            return Ok(());
        }
        log::info(&format!(
            "planned: review change set {name}, then run with `mode: execute` and `change-set-id: {id}`; nothing that serves traffic has changed"
        ));
        Ok(())
    }

    fn report_plan(&mut self, set: &ChangeSet, parameters: &[(String, String, String)]) {
        let versions = self.version_parameters().iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
        let empty = set.is_empty();
        self.out.has_changes = (!empty).to_string();
        self.out.changes_count = if empty { "0".to_owned() } else { set.changes.len().to_string() };
        if !empty {
            self.out.change_set_id = set.id.clone();
            self.out.change_set_name = set.name.clone();
        }
        self.out.changes_markdown = changeset::markdown(set, parameters, &versions);
        for line in changeset::plain(set, parameters, &versions) {
            log::info(&line);
        }
        for loud in changeset::replacements(set) {
            log::warn(&loud);
        }
    }

    /// A plan with nothing to change: the stack already runs this code with these inputs.
    pub(super) fn plan_nothing(&mut self) {
        log::info("nothing to plan: the stack already runs this code, and no template, parameters or tags were given; no change set");
        self.out.has_changes = "false".to_owned();
        self.out.changes_count = "0".to_owned();
    }

    /// `mode: execute`: checks that the change set is still the one reviewed, executes it, waits,
    /// then settles and checks the distribution as a release does.
    pub(super) async fn execute_change_set(&mut self, id: &str) -> Result<()> {
        let (s, c) = (self.settings, self.clients);
        self.phases.start("Change set");
        let Some(set) = changeset::describe(&c.cloudformation, id, &s.stack_name).await? else {
            return Err(Error::precondition(
                format!("change set {id} does not exist"),
                "It was deleted (executing another change set or deleting the stack deletes it), or the id is wrong: plan again.",
            ));
        };
        changeset::check_executable(&set, &s.stack_name)?;
        let before = stack::describe(&c.cloudformation, &s.stack_name).await?;
        let create = before.as_ref().is_none_or(|st| st.status.as_str() == "REVIEW_IN_PROGRESS");
        let mut missing = Vec::new();
        for f in &s.functions {
            if !create && function::get(&c.lambda, &f.name).await?.is_none() {
                missing.push(f.name.clone());
            }
        }
        if !missing.is_empty() {
            return Err(Error::precondition(
                format!(
                    "function(s) {} do not exist, but the change set updates stack {}",
                    missing.join(", "),
                    s.stack_name
                ),
                "Fix `function-name` (or `functions`) to name the stack's functions.",
            ));
        }
        let previous: Vec<(String, String)> = before.as_ref().map(|st| st.parameters.clone()).unwrap_or_default();
        let after: Vec<ParamValue> =
            set.parameters.iter().map(|(k, v)| ParamValue::Value(k.clone(), v.clone())).collect();
        let parameters = changeset::parameter_changes(&previous, &after, &self.version_parameters());
        self.out.change_set_id = set.id.clone();
        self.out.change_set_name = set.name.clone();
        self.out.stack_id = set.stack_id.clone();
        self.out.first_launch = create;
        for line in changeset::plain(&set, &parameters, &self.version_parameters()) {
            log::info(&line);
        }
        let since = since_now();
        let token = stack::new_token("execute");
        changeset::execute(&c.cloudformation, &set.id, &token).await?;
        log::info(&format!("executing change set {} on stack {}", set.name, s.stack_name));
        match create {
            true => self.done.launched = true,
            false => self.done.stack_updated = true,
        }
        self.record();
        if !s.wait {
            self.out.stack_status = if create { "CREATE_IN_PROGRESS" } else { "UPDATE_IN_PROGRESS" }.to_owned();
            log::info("not waiting (`wait: false`)");
            return Ok(());
        }
        let op = if create { Operation::Create } else { Operation::Update };
        self.wait_stack(&set.stack_id, op, since, &token).await?;

        let infos: Vec<FunctionInfo> = if set.parameter(&s.first_launch_parameter) == Some("true") {
            self.read_launched(&set.stack_id).await?
        } else {
            let mut infos = Vec::new();
            for (i, f) in s.functions.iter().enumerate() {
                let info = function::get(&c.lambda, &f.name).await?.ok_or_else(|| {
                    Error::failed(
                        format!("function {} is gone after the change set", f.name),
                        "Read the stack's events.",
                    )
                })?;
                let Some(arn) = set.parameter(&f.parameter).filter(|v| function::version_of(v).is_some()) else {
                    return Err(Error::failed(
                        format!("change set {} sets no version of {} in {}", set.name, f.name, f.parameter),
                        "Plan with the same `function-name`/`functions` (version parameters) as this run.",
                    ));
                };
                let was = previous.iter().find(|(k, _)| *k == f.parameter).map(|(_, v)| v.as_str());
                let changed = was != Some(arn);
                self.set_version(i, arn);
                self.function_out(i, |o| o.changed = changed);
                if !s.several {
                    self.out.function_arn = info.arn.clone();
                }
                infos.push(info);
            }
            infos
        };
        self.settle_after(&set.stack_id, &infos, &format!("change set {} was executed", set.name)).await
    }
}
