//! Lint: every problem of a pipeline or task config that Concourse would
//! reject, found at once instead of one `fly set-pipeline` at a time.
//!
//! Each top-level entry (a resource, a job, ...) is parsed on its own, so a
//! typo in one job does not hide the problems of the others. The checks
//! that need the whole pipeline (names, `passed:`, artifacts) then run over
//! the entries that parsed.
//!
//! Task files are read only from the artifact folders the caller names in
//! [`LintOptions::with_artifact`]; a task whose file cannot be read that way
//! is trusted, and the inputs of the tasks after it are not checked, since
//! its outputs are unknown.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use globset::Glob;
use serde::de::DeserializeOwned;
use serde_yaml_ng::{Mapping, Value};

use crate::pipeline::{Group, Job, Resource, ResourceType, VarSource, BUILT_IN_RESOURCE_TYPES};
use crate::step::{describe, key_text, split_artifact_path, Step, StepKind, TaskStep};
use crate::task::TaskConfig;
use crate::vars::{Vars, VarsError};

/// The top-level keys of a pipeline.
const PIPELINE_KEYS: &[&str] = &[
    "resources",
    "resource_types",
    "jobs",
    "groups",
    "var_sources",
    "display",
];

/// One thing Concourse would reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is, e.g. `job sandbox-stemcell, task: apply`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl Problem {
    fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// What the lint knows beyond the config text.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// The vars file the pipeline will be set with; when given, every
    /// `((var))` it does not set is a problem.
    pub vars: Option<Vars>,
    /// Local folders holding the content of artifacts, by artifact name,
    /// used to read `file: <artifact>/<path>` task configs.
    pub artifacts: BTreeMap<String, PathBuf>,
}

impl LintOptions {
    /// Create options with no vars file and no artifact folders.
    pub fn new() -> Self {
        Self::default()
    }

    /// Check `((vars))` against `vars`.
    pub fn with_vars(mut self, vars: Vars) -> Self {
        self.vars = Some(vars);
        self
    }

    /// Read task files of artifact `name` from the folder `dir`.
    pub fn with_artifact(mut self, name: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.artifacts.insert(name.into(), dir.into());
        self
    }
}

/// Return every problem of the pipeline config `text`; empty when Concourse
/// would accept it.
pub fn lint(text: &str, options: &LintOptions) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut value = match crate::parse_yaml(text) {
        Ok(value) => value,
        Err(e) => return vec![Problem::new("pipeline", e.to_string())],
    };
    if let Some(vars) = &options.vars {
        if let Err(e) = vars.interpolate(&mut value) {
            problems.push(Problem::new("pipeline", e.to_string()));
        }
    }
    let Value::Mapping(mut top) = value else {
        problems.push(Problem::new(
            "pipeline",
            "expected a mapping at the top level",
        ));
        return problems;
    };

    for key in top.keys() {
        let name = key.as_str().unwrap_or_default();
        if !PIPELINE_KEYS.contains(&name) {
            problems.push(Problem::new(
                "pipeline",
                format!(
                    "unknown field `{}`, expected one of {}",
                    key_text(key),
                    quoted(PIPELINE_KEYS)
                ),
            ));
        }
    }

    let resources: Vec<Resource> = parse_list(&mut top, "resources", "resource", &mut problems);
    let resource_types: Vec<ResourceType> =
        parse_list(&mut top, "resource_types", "resource type", &mut problems);
    let (jobs, unparsed_jobs) = {
        let before = problems.len();
        let jobs: Vec<Job> = parse_list(&mut top, "jobs", "job", &mut problems);
        (jobs, problems.len() - before)
    };
    let groups: Vec<Group> = parse_list(&mut top, "groups", "group", &mut problems);
    let var_sources: Vec<VarSource> =
        parse_list(&mut top, "var_sources", "var source", &mut problems);
    if let Some(display) = top.remove("display") {
        if let Err(e) = serde_yaml_ng::from_value::<crate::pipeline::Display>(display) {
            problems.push(Problem::new("display", e.to_string()));
        }
    }

    if jobs.is_empty() && unparsed_jobs == 0 {
        problems.push(Problem::new("pipeline", "at least one job is required"));
    }
    duplicates(
        "resources",
        "resource",
        resources.iter().map(|r| &r.name),
        &mut problems,
    );
    duplicates(
        "resource_types",
        "resource type",
        resource_types.iter().map(|t| &t.name),
        &mut problems,
    );
    duplicates("jobs", "job", jobs.iter().map(|j| &j.name), &mut problems);
    duplicates(
        "groups",
        "group",
        groups.iter().map(|g| &g.name),
        &mut problems,
    );
    duplicates(
        "var_sources",
        "var source",
        var_sources.iter().map(|v| &v.name),
        &mut problems,
    );

    let known_type = |name: &str| {
        BUILT_IN_RESOURCE_TYPES.contains(&name) || resource_types.iter().any(|t| t.name == name)
    };
    for resource_type in &resource_types {
        if !known_type(&resource_type.type_) {
            problems.push(Problem::new(
                format!("resource type {}", resource_type.name),
                format!(
                    "type `{}` is neither declared nor built in",
                    resource_type.type_
                ),
            ));
        }
    }
    for resource in &resources {
        if !known_type(&resource.type_) {
            problems.push(Problem::new(
                format!("resource {}", resource.name),
                format!("type `{}` is neither declared nor built in", resource.type_),
            ));
        }
    }

    check_groups(&groups, &jobs, &mut problems);

    let mut walker = Walker {
        options,
        resources: resources.iter().map(|r| r.name.clone()).collect(),
        jobs: &jobs,
        problems: &mut problems,
    };
    for job in &jobs {
        walker.job(job);
    }
    problems
}

/// Return every problem of the task config `text` (a `ci/tasks/*.yml`
/// file), checking its `((vars))` against `vars` when given.
pub fn lint_task(text: &str, vars: Option<&Vars>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut value = match crate::parse_yaml(text) {
        Ok(value) => value,
        Err(e) => return vec![Problem::new("task config", e.to_string())],
    };
    if let Some(vars) = vars {
        if let Err(e) = vars.interpolate(&mut value) {
            problems.push(Problem::new("task config", e.to_string()));
        }
    }
    match TaskConfig::from_value(value) {
        Ok(config) => task_config_problems("task config", &config, &mut problems),
        Err(e) => problems.push(Problem::new("task config", error_message(&e))),
    }
    problems
}

/// Check what serde cannot: input and output names are unique.
fn task_config_problems(location: &str, config: &TaskConfig, problems: &mut Vec<Problem>) {
    duplicates(
        location,
        "input",
        config.inputs.iter().map(|i| &i.name),
        problems,
    );
    duplicates(
        location,
        "output",
        config.outputs.iter().map(|o| &o.name),
        problems,
    );
}

/// Return the message of a config error without its location prefix.
fn error_message(error: &crate::ConfigError) -> String {
    match error {
        crate::ConfigError::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Parse each entry of the list under `key` on its own, reporting the
/// entries that do not fit and returning the ones that do.
fn parse_list<T: DeserializeOwned>(
    top: &mut Mapping,
    key: &str,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Vec<T> {
    let items = match top.remove(key) {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Sequence(items)) => items,
        Some(other) => {
            problems.push(Problem::new(
                key,
                format!("expected a list, got {}", describe(&other)),
            ));
            return Vec::new();
        }
    };
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let location = match item.get("name").and_then(Value::as_str) {
            Some(name) => format!("{what} {name}"),
            None => format!("{key}[{index}]"),
        };
        match serde_yaml_ng::from_value(item) {
            Ok(value) => parsed.push(value),
            Err(e) => problems.push(Problem::new(location, e.to_string())),
        }
    }
    parsed
}

/// Report every name that appears more than once.
fn duplicates<'a>(
    location: &str,
    what: &str,
    names: impl Iterator<Item = &'a String>,
    problems: &mut Vec<Problem>,
) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut order = Vec::new();
    for name in names {
        let count = counts.entry(name).or_insert(0);
        if *count == 0 {
            order.push(name.as_str());
        }
        *count += 1;
    }
    for name in order {
        if counts[name] > 1 {
            problems.push(Problem::new(
                location,
                format!("{what} `{name}` is declared {} times", counts[name]),
            ));
        }
    }
}

/// Check that groups name existing jobs and, once there are groups, that
/// every job is in one.
fn check_groups(groups: &[Group], jobs: &[Job], problems: &mut Vec<Problem>) {
    if groups.is_empty() {
        return;
    }
    let mut grouped: BTreeSet<&str> = BTreeSet::new();
    for group in groups {
        for pattern in &group.jobs {
            let matched: Vec<&str> = if pattern.contains(['*', '?', '[', '{']) {
                match Glob::new(pattern) {
                    Ok(glob) => {
                        let matcher = glob.compile_matcher();
                        jobs.iter()
                            .map(|j| j.name.as_str())
                            .filter(|name| matcher.is_match(name))
                            .collect()
                    }
                    Err(e) => {
                        problems.push(Problem::new(
                            format!("group {}", group.name),
                            format!("job pattern `{pattern}` is not a valid glob: {e}"),
                        ));
                        continue;
                    }
                }
            } else {
                jobs.iter()
                    .map(|j| j.name.as_str())
                    .filter(|name| name == pattern)
                    .collect()
            };
            if matched.is_empty() {
                problems.push(Problem::new(
                    format!("group {}", group.name),
                    format!("no job matches `{pattern}`"),
                ));
            }
            grouped.extend(matched);
        }
    }
    for job in jobs {
        if !grouped.contains(job.name.as_str()) {
            problems.push(Problem::new(
                format!("job {}", job.name),
                "is in no group, but the pipeline has groups",
            ));
        }
    }
}

/// The artifacts a build has at some point of its plan.
#[derive(Debug, Clone, Default)]
struct Artifacts {
    names: BTreeSet<String>,
    /// An earlier task's outputs are unknown, so any name may exist.
    opaque: bool,
}

impl Artifacts {
    fn has(&self, name: &str) -> bool {
        self.opaque || self.names.contains(name)
    }

    fn absorb(&mut self, other: Artifacts) {
        self.names.extend(other.names);
        self.opaque |= other.opaque;
    }
}

/// Walks the jobs' plans, following artifacts from step to step.
struct Walker<'a> {
    options: &'a LintOptions,
    resources: BTreeSet<String>,
    jobs: &'a [Job],
    problems: &'a mut Vec<Problem>,
}

impl Walker<'_> {
    fn job(&mut self, job: &Job) {
        let location = format!("job {}", job.name);
        let mut artifacts = Artifacts::default();
        for step in &job.plan {
            self.step(&location, step, &mut artifacts);
        }

        // Job hooks run after the plan and see everything it produced.
        for (key, hook) in job.hooks.iter() {
            let mut seen = artifacts.clone();
            self.step(&format!("{location}, {key}"), hook, &mut seen);
        }
    }

    fn step(&mut self, parent: &str, step: &Step, artifacts: &mut Artifacts) {
        let location = format!("{parent}, {}", step.label());
        match &step.kind {
            StepKind::Get(get) => {
                self.resource(&location, get.resource_name());
                for upstream in &get.passed {
                    self.passed(&location, upstream, get.resource_name());
                }
                artifacts.names.insert(get.get.clone());
            }
            StepKind::Put(put) => {
                self.resource(&location, put.resource_name());
                if !put.no_get {
                    artifacts.names.insert(put.put.clone());
                }
            }
            StepKind::Task(task) => self.task(&location, task, artifacts),
            StepKind::SetPipeline(set) => {
                self.file_artifact(&location, &set.file, artifacts);
                for file in &set.var_files {
                    self.file_artifact(&location, file, artifacts);
                }
            }
            StepKind::LoadVar(load) => self.file_artifact(&location, &load.file, artifacts),
            StepKind::InParallel(parallel) => {
                // Parallel branches cannot see each other's artifacts.
                let before = artifacts.clone();
                for child in &parallel.steps {
                    let mut branch = before.clone();
                    self.step(&location, child, &mut branch);
                    artifacts.absorb(branch);
                }
            }
            StepKind::Do(steps) => {
                for child in steps {
                    self.step(&location, child, artifacts);
                }
            }
            StepKind::Try(child) => self.step(&location, child, artifacts),
        }
        for (key, hook) in step.modifiers.hooks.iter() {
            let mut seen = artifacts.clone();
            self.step(&format!("{location}, {key}"), hook, &mut seen);
            artifacts.absorb(seen);
        }
    }

    fn resource(&mut self, location: &str, name: &str) {
        if !self.resources.contains(name) {
            self.problems.push(Problem::new(
                location,
                format!("resource `{name}` is not declared in resources"),
            ));
        }
    }

    fn passed(&mut self, location: &str, upstream: &str, resource: &str) {
        match self.jobs.iter().find(|j| j.name == upstream) {
            None => self.problems.push(Problem::new(
                location,
                format!("passed: job `{upstream}` does not exist"),
            )),
            Some(job) if !job.resources_used().contains(resource) => {
                self.problems.push(Problem::new(
                    location,
                    format!("passed: job `{upstream}` neither gets nor puts resource `{resource}`"),
                ))
            }
            Some(_) => {}
        }
    }

    /// Check that a `<artifact>/<path>` file lives in an available artifact.
    fn file_artifact(&mut self, location: &str, file: &str, artifacts: &Artifacts) {
        match split_artifact_path(file) {
            None => self.problems.push(Problem::new(
                location,
                format!("file `{file}` must be <artifact>/<path>"),
            )),
            Some((artifact, _)) if !artifacts.has(artifact) => self.problems.push(Problem::new(
                location,
                format!(
                    "file `{file}` is in artifact `{artifact}`, which no earlier step provides"
                ),
            )),
            Some(_) => {}
        }
    }

    fn task(&mut self, location: &str, task: &TaskStep, artifacts: &mut Artifacts) {
        if let Some(image) = &task.image {
            if !artifacts.has(image) {
                self.problems.push(Problem::new(
                    location,
                    format!("image artifact `{image}` is not provided by an earlier step"),
                ));
            }
        }
        if let Some(file) = &task.file {
            self.file_artifact(location, file, artifacts);
        }

        let config = match (&task.config, &task.file) {
            (Some(config), _) => Some(config.clone()),
            (None, Some(file)) => self.read_task_file(location, task, file),
            (None, None) => {
                self.problems
                    .push(Problem::new(location, "a task needs `file` or `config`"));
                None
            }
        };

        let Some(config) = config else {
            // Without the config its outputs are unknown, so later inputs
            // cannot be checked.
            artifacts
                .names
                .extend(task.output_mapping.values().cloned());
            artifacts.opaque = true;
            return;
        };
        task_config_problems(location, &config, self.problems);
        for input in config.inputs.iter().filter(|input| !input.optional) {
            let artifact = task.artifact_for_input(&input.name);
            if artifacts.has(artifact) {
                continue;
            }
            let message = if artifact == input.name {
                format!("input `{}` is not provided by an earlier step", input.name)
            } else {
                format!(
                    "input `{}` (mapped to `{artifact}`) is not provided by an earlier step",
                    input.name
                )
            };
            self.problems.push(Problem::new(location, message));
        }
        for output in &config.outputs {
            artifacts
                .names
                .insert(task.artifact_for_output(&output.name).to_string());
        }
    }

    /// Read and parse a task file from the artifact folders, when known.
    fn read_task_file(
        &mut self,
        location: &str,
        task: &TaskStep,
        file: &str,
    ) -> Option<TaskConfig> {
        let (artifact, path) = split_artifact_path(file)?;
        let root = self.options.artifacts.get(artifact)?;
        let full = root.join(path);
        let text = match std::fs::read_to_string(&full) {
            Ok(text) => text,
            Err(e) => {
                self.problems.push(Problem::new(
                    location,
                    format!("cannot read task file `{file}` ({}): {e}", full.display()),
                ));
                return None;
            }
        };
        let mut value = match crate::parse_yaml(&text) {
            Ok(value) => value,
            Err(e) => {
                self.problems
                    .push(Problem::new(location, format!("task file `{file}`: {e}")));
                return None;
            }
        };

        // The step's vars fill the file's placeholders first; the pipeline's
        // vars stand in for what a credential manager would provide.
        let mut step_vars = Vars::new();
        for (name, value) in &task.vars {
            step_vars.set(name.clone(), value.clone());
        }
        let (vars, report_unset) = match &self.options.vars {
            Some(pipeline_vars) => (pipeline_vars.overlay(&step_vars), true),
            None => (step_vars, false),
        };
        match vars.interpolate(&mut value) {
            Err(VarsError::Unset(_)) if !report_unset => {}
            Err(e) => self
                .problems
                .push(Problem::new(location, format!("task file `{file}`: {e}"))),
            Ok(()) => {}
        }
        match TaskConfig::from_value(value) {
            Ok(config) => Some(config),
            Err(e) => {
                self.problems.push(Problem::new(
                    location,
                    format!("task file `{file}`: {}", error_message(&e)),
                ));
                None
            }
        }
    }
}

/// Render names as "`a`, `b`".
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small valid pipeline that each test breaks in one place.
    const BASE: &str = "\
resources:
- {name: src, type: git, source: {uri: ((uri))}}
jobs:
- name: build
  plan:
  - get: src
    trigger: true
  - task: compile
    config:
      platform: linux
      run: {path: make}
      inputs: [{name: src}]
      outputs: [{name: binary}]
  - put: src
    params: {repository: binary}
- name: ship
  plan:
  - get: src
    passed: [build]
";

    fn uri_vars() -> LintOptions {
        LintOptions::new().with_vars(Vars::from_yaml("uri: https://git.test/src.git").unwrap())
    }

    fn messages(text: &str, options: &LintOptions) -> Vec<String> {
        lint(text, options).iter().map(Problem::to_string).collect()
    }

    #[test]
    fn the_base_pipeline_is_clean() {
        assert_eq!(messages(BASE, &uri_vars()), Vec::<String>::new());
    }

    #[test]
    fn an_unknown_step_key_is_reported() {
        let text = BASE.replace("    trigger: true\n", "    trigerr: true\n");
        assert_eq!(
            messages(&text, &uri_vars()),
            vec![
                "job build: get: src: unknown field `trigerr`, expected one of `get`, \
                 `resource`, `passed`, `params`, `trigger`, `version`, `timeout`, `attempts`, \
                 `tags`, `across`, `on_success`, `on_failure`, `on_abort`, `on_error`, `ensure`"
                    .to_string(),
                // The broken job is left out of the later checks, so the
                // job depending on it has nothing to pass through.
                "job ship, get: src: passed: job `build` does not exist".to_string(),
            ]
        );
    }

    #[test]
    fn unknown_keys_at_the_top_and_in_a_resource_are_reported_together() {
        let text = format!(
            "{}notes: hi\n",
            BASE.replace(
                "source: {uri: ((uri))}",
                "source: {uri: ((uri))}, chek_every: 1m"
            )
        );
        assert_eq!(
            messages(&text, &uri_vars()),
            vec![
                "pipeline: unknown field `notes`, expected one of `resources`, \
                 `resource_types`, `jobs`, `groups`, `var_sources`, `display`"
                    .to_string(),
                "resource src: unknown field `chek_every`, expected one of `name`, `type`, \
                 `source`, `check_every`, `check_timeout`, `icon`, `tags`, `public`, \
                 `webhook_token`, `version`, `old_name`, `expose_build_created_by`"
                    .to_string(),
                "job build, get: src: resource `src` is not declared in resources".to_string(),
                "job build, put: src: resource `src` is not declared in resources".to_string(),
                "job ship, get: src: resource `src` is not declared in resources".to_string(),
            ]
        );
    }

    #[test]
    fn an_undeclared_resource_is_reported() {
        let text = BASE.replace("  - get: src\n    passed", "  - get: srcs\n    passed");
        assert_eq!(
            messages(&text, &uri_vars()),
            vec![
                "job ship, get: srcs: resource `srcs` is not declared in resources",
                "job ship, get: srcs: passed: job `build` neither gets nor puts resource `srcs`",
            ]
        );
    }

    #[test]
    fn an_undeclared_resource_type_is_reported() {
        let text = BASE.replace("type: git", "type: patchline");
        assert_eq!(
            messages(&text, &uri_vars()),
            vec!["resource src: type `patchline` is neither declared nor built in"]
        );
        let declared = format!(
            "resource_types:\n- {{name: patchline, type: registry-image, source: {{repository: x}}}}\n{text}"
        );
        assert_eq!(messages(&declared, &uri_vars()), Vec::<String>::new());
    }

    #[test]
    fn passed_must_name_a_job_that_uses_the_resource() {
        let unknown = BASE.replace("passed: [build]", "passed: [biuld]");
        assert_eq!(
            messages(&unknown, &uri_vars()),
            vec!["job ship, get: src: passed: job `biuld` does not exist"]
        );

        let text = format!(
            "{}- name: lint\n  plan:\n  - get: src\n    passed: [ship]\n  - get: other\n    passed: [ship]\n",
            BASE.replace(
                "resources:\n",
                "resources:\n- {name: other, type: time, source: {interval: 1h}}\n"
            )
        );
        assert_eq!(
            messages(&text, &uri_vars()),
            vec!["job lint, get: other: passed: job `ship` neither gets nor puts resource `other`"]
        );
    }

    #[test]
    fn a_task_file_in_an_artifact_never_fetched_is_reported() {
        let text = BASE.replace(
            "    passed: [build]\n",
            "    passed: [build]\n  - task: deploy\n    file: ci/tasks/deploy.yml\n",
        );
        assert_eq!(
            messages(&text, &uri_vars()),
            vec![
                "job ship, task: deploy: file `ci/tasks/deploy.yml` is in artifact `ci`, \
                 which no earlier step provides"
            ]
        );
    }

    #[test]
    fn a_missing_task_input_is_reported() {
        let text = BASE.replace(
            "inputs: [{name: src}]",
            "inputs: [{name: src}, {name: cache}]",
        );
        assert_eq!(
            messages(&text, &uri_vars()),
            vec!["job build, task: compile: input `cache` is not provided by an earlier step"]
        );
        let optional = BASE.replace(
            "inputs: [{name: src}]",
            "inputs: [{name: src}, {name: cache, optional: true}]",
        );
        assert_eq!(messages(&optional, &uri_vars()), Vec::<String>::new());
    }

    #[test]
    fn task_files_are_read_from_artifact_folders_with_input_mapping() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join("ci")).unwrap();
        std::fs::write(
            repo.path().join("ci/apply.yml"),
            "platform: linux\nimage_resource: {type: registry-image, source: {repository: ((image))}}\n\
             inputs: [{name: patch}, {name: config, optional: true}]\noutputs: [{name: applied}]\n\
             run: {path: apply}\n",
        )
        .unwrap();
        let pipeline = |mapping: &str| {
            [
                "resources:",
                "- {name: stemcell, type: git, source: {}}",
                "- {name: tasks, type: git, source: {}}",
                "jobs:",
                "- name: sandbox",
                "  plan:",
                "  - get: stemcell",
                "  - get: tasks",
                "  - task: apply",
                "    file: tasks/ci/apply.yml",
                "    vars: {image: registry.test/patchline}",
                &format!("    input_mapping: {mapping}"),
                "  - put: stemcell",
                "    params: {from: applied}",
            ]
            .join("\n")
        };
        let options = LintOptions::new()
            .with_vars(Vars::new())
            .with_artifact("tasks", repo.path());

        assert_eq!(
            messages(&pipeline("{patch: stemcell}"), &options),
            Vec::<String>::new()
        );
        assert_eq!(
            messages(&pipeline("{patch: stemcel}"), &options),
            vec![
                "job sandbox, task: apply: input `patch` (mapped to `stemcel`) is not provided \
                 by an earlier step"
            ]
        );

        let missing_var = pipeline("{patch: stemcell}")
            .replace("vars: {image: registry.test/patchline}", "vars: {}");
        assert_eq!(
            messages(&missing_var, &options),
            vec!["job sandbox, task: apply: task file `tasks/ci/apply.yml`: undefined vars: image"]
        );
    }

    #[test]
    fn unset_vars_are_reported_once_with_every_name() {
        let text = BASE.replace(
            "{uri: ((uri))}",
            "{uri: ((uri)), branch: ((branch)), key: ((key))}",
        );
        assert_eq!(
            messages(&text, &uri_vars()),
            vec!["pipeline: undefined vars: branch, key"]
        );
        assert_eq!(messages(&text, &LintOptions::new()), Vec::<String>::new());
    }

    #[test]
    fn duplicate_names_are_reported() {
        let text = BASE.replace(
            "resources:\n",
            "resources:\n- {name: src, type: git, source: {uri: x}}\n",
        );
        assert_eq!(
            messages(&text, &uri_vars()),
            vec!["resources: resource `src` is declared 2 times"]
        );
    }

    #[test]
    fn groups_must_cover_every_job_with_real_names() {
        let text = format!("{BASE}groups:\n- {{name: all, jobs: [build, shpi]}}\n");
        assert_eq!(
            messages(&text, &uri_vars()),
            vec![
                "group all: no job matches `shpi`",
                "job ship: is in no group, but the pipeline has groups",
            ]
        );
        let glob = format!("{BASE}groups:\n- {{name: all, jobs: ['*']}}\n");
        assert_eq!(messages(&glob, &uri_vars()), Vec::<String>::new());
    }

    #[test]
    fn a_pipeline_needs_a_job_and_valid_yaml() {
        assert_eq!(
            messages("resources: []\n", &LintOptions::new()),
            vec!["pipeline: at least one job is required"]
        );
        let broken = messages("jobs: [\n", &LintOptions::new());
        assert_eq!(broken.len(), 1);
        assert!(
            broken[0].starts_with("pipeline: invalid YAML: "),
            "{broken:?}"
        );
    }

    #[test]
    fn a_task_config_file_is_linted_on_its_own() {
        let vars = Vars::from_yaml("image: registry.test/x").unwrap();
        let good = "platform: linux\nimage_resource: {type: registry-image, source: {repository: ((image))}}\nrun: {path: x}\n";
        assert_eq!(lint_task(good, Some(&vars)), Vec::<Problem>::new());
        let bad = "platform: linux\ninputs: [{name: a}, {name: a}]\nrun: {path: x}\nparms: {}\n";
        let problems: Vec<String> = lint_task(bad, None)
            .iter()
            .map(Problem::to_string)
            .collect();
        assert_eq!(
            problems,
            vec![
                "task config: unknown field `parms`, expected one of `platform`, \
                 `image_resource`, `inputs`, `outputs`, `caches`, `params`, `run`, \
                 `rootfs_uri`, `container_limits`"
            ]
        );
        let duplicate = "platform: linux\ninputs: [{name: a}, {name: a}]\nrun: {path: x}\n";
        let problems: Vec<String> = lint_task(duplicate, None)
            .iter()
            .map(Problem::to_string)
            .collect();
        assert_eq!(problems, vec!["task config: input `a` is declared 2 times"]);
    }
}
