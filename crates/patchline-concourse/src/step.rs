//! Build plan steps: the model of one entry of a job's `plan:`, as an enum
//! a rehearsal can walk (`match step.kind { StepKind::Get(..) => .. }`).
//!
//! Concourse tells a step's kind by which key it has (`get:`, `task:`, ...);
//! the modifiers (`timeout`, `attempts`, `tags`, `across` and the hooks) may
//! sit beside any of them. Parsing splits the two and rejects every key
//! that is neither, naming the step.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::{Mapping, Value};

use crate::task::{ContainerLimits, TaskConfig};

/// Keys that may sit beside any step kind.
const MODIFIER_KEYS: &[&str] = &[
    "timeout",
    "attempts",
    "tags",
    "across",
    "on_success",
    "on_failure",
    "on_abort",
    "on_error",
    "ensure",
];

/// The key that names each step kind, with the kind's other keys.
const KINDS: &[(&str, &[&str])] = &[
    (
        "get",
        &["resource", "passed", "params", "trigger", "version"],
    ),
    (
        "put",
        &["resource", "params", "get_params", "inputs", "no_get"],
    ),
    (
        "task",
        &[
            "file",
            "config",
            "image",
            "privileged",
            "vars",
            "params",
            "input_mapping",
            "output_mapping",
            "container_limits",
            "hermetic",
        ],
    ),
    (
        "set_pipeline",
        &["file", "vars", "var_files", "team", "instance_vars"],
    ),
    ("load_var", &["file", "format", "reveal"]),
    ("in_parallel", &[]),
    ("do", &[]),
    ("try", &[]),
];

/// One step of a build plan: what it does and how it is modified.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the step does.
    pub kind: StepKind,
    /// Timeout, retries, worker tags, `across` and hooks.
    pub modifiers: Modifiers,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Fetch a version of a resource as an artifact.
    Get(GetStep),
    /// Push to a resource, then (unless `no_get`) fetch what was pushed.
    Put(PutStep),
    /// Run a task.
    Task(Box<TaskStep>),
    /// Configure a pipeline from a file.
    SetPipeline(SetPipelineStep),
    /// Read a file into a local var, `((.:name))`.
    LoadVar(LoadVarStep),
    /// Run steps concurrently.
    InParallel(InParallel),
    /// Run steps one after the other.
    Do(Vec<Step>),
    /// Run a step, ignoring its failure.
    Try(Box<Step>),
}

/// A `get` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetStep {
    /// The artifact name (and the resource, unless `resource` is set).
    pub get: String,
    /// The resource to fetch, when it differs from the artifact name.
    #[serde(default)]
    pub resource: Option<String>,
    /// Only versions that went through all of these jobs.
    #[serde(default)]
    pub passed: Vec<String>,
    /// Params for the resource's `in`.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Whether a new version starts the job.
    #[serde(default)]
    pub trigger: bool,
    /// Which versions to fetch.
    #[serde(default)]
    pub version: Option<GetVersion>,
}

impl GetStep {
    /// Return the resource fetched (`resource:`, else the step name).
    pub fn resource_name(&self) -> &str {
        self.resource.as_deref().unwrap_or(&self.get)
    }
}

/// Which versions a `get` step fetches.
#[derive(Debug, Clone, PartialEq)]
pub enum GetVersion {
    /// The newest version (the default).
    Latest,
    /// Every version, in order, one build each.
    Every,
    /// One pinned version.
    Pinned(BTreeMap<String, Value>),
}

impl<'de> Deserialize<'de> for GetVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) if s == "latest" => Ok(GetVersion::Latest),
            Value::String(s) if s == "every" => Ok(GetVersion::Every),
            value @ Value::Mapping(_) => serde_yaml_ng::from_value(value)
                .map(GetVersion::Pinned)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "version: expected `latest`, `every` or a version mapping, got {}",
                describe(&other)
            ))),
        }
    }
}

/// A `put` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutStep {
    /// The step name (and the resource, unless `resource` is set).
    pub put: String,
    /// The resource to push to, when it differs from the step name.
    #[serde(default)]
    pub resource: Option<String>,
    /// Params for the resource's `out`.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Params for the implicit get after the put.
    #[serde(default)]
    pub get_params: BTreeMap<String, Value>,
    /// Artifacts given to `out`: `all`, `detect` or a list of names.
    #[serde(default)]
    pub inputs: Option<Value>,
    /// Skip the implicit get, so the put produces no artifact.
    #[serde(default)]
    pub no_get: bool,
}

impl PutStep {
    /// Return the resource pushed to (`resource:`, else the step name).
    pub fn resource_name(&self) -> &str {
        self.resource.as_deref().unwrap_or(&self.put)
    }
}

/// A `task` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStep {
    /// The task's name, shown in the UI.
    pub task: String,
    /// A task config file, as `<artifact>/<path>`.
    #[serde(default)]
    pub file: Option<String>,
    /// An inline task config.
    #[serde(default)]
    pub config: Option<TaskConfig>,
    /// An artifact to use as the image instead of `image_resource`.
    #[serde(default)]
    pub image: Option<String>,
    /// Run the container privileged.
    #[serde(default)]
    pub privileged: bool,
    /// Values for `((vars))` of the task file.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// Environment of the process, over the task config's `params`.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Task input name to artifact name.
    #[serde(default)]
    pub input_mapping: BTreeMap<String, String>,
    /// Task output name to artifact name.
    #[serde(default)]
    pub output_mapping: BTreeMap<String, String>,
    /// Limits over the task config's.
    #[serde(default)]
    pub container_limits: Option<ContainerLimits>,
    /// Cut the container off the network.
    #[serde(default)]
    pub hermetic: bool,
}

impl TaskStep {
    /// Return the artifact a task file lives in and its path inside it,
    /// e.g. `("patchline", "ci/tasks/apply.yml")`.
    pub fn file_location(&self) -> Option<(&str, &str)> {
        self.file.as_deref().and_then(split_artifact_path)
    }

    /// Return the artifact that provides the task input `input`.
    pub fn artifact_for_input<'a>(&'a self, input: &'a str) -> &'a str {
        self.input_mapping
            .get(input)
            .map(String::as_str)
            .unwrap_or(input)
    }

    /// Return the artifact name the task output `output` is registered as.
    pub fn artifact_for_output<'a>(&'a self, output: &'a str) -> &'a str {
        self.output_mapping
            .get(output)
            .map(String::as_str)
            .unwrap_or(output)
    }
}

/// A `set_pipeline` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPipelineStep {
    /// The pipeline name (`self` for the current one).
    pub set_pipeline: String,
    /// The pipeline config file, as `<artifact>/<path>`.
    pub file: String,
    /// Values for its `((vars))`.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// Vars files, each as `<artifact>/<path>`.
    #[serde(default)]
    pub var_files: Vec<String>,
    /// The team to set it in.
    #[serde(default)]
    pub team: Option<String>,
    /// Vars that make it one instance of a group of pipelines.
    #[serde(default)]
    pub instance_vars: BTreeMap<String, Value>,
}

/// A `load_var` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadVarStep {
    /// The local var name.
    pub load_var: String,
    /// The file to read, as `<artifact>/<path>`.
    pub file: String,
    /// `raw`, `trim`, `json`, `yml` or `yaml` (default: by extension).
    #[serde(default)]
    pub format: Option<String>,
    /// Show the value in build logs.
    #[serde(default)]
    pub reveal: bool,
}

/// An `in_parallel` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InParallel {
    /// The steps.
    pub steps: Vec<Step>,
    /// How many run at once (default: all).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Stop the others once one fails.
    #[serde(default)]
    pub fail_fast: bool,
}

/// What may modify any step.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "RawModifiers")]
pub struct Modifiers {
    /// Abort the step after this long (Go duration, e.g. `30m`).
    pub timeout: Option<String>,
    /// Run the step up to this many times until it succeeds.
    pub attempts: Option<u32>,
    /// Worker tags the step's containers need.
    pub tags: Vec<String>,
    /// Run the step once per combination of these vars' values.
    pub across: Vec<AcrossVar>,
    /// Steps run after this one, depending on how it ended.
    pub hooks: Hooks,
}

/// The modifier keys as they are written, hooks beside the rest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModifiers {
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    attempts: Option<u32>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    across: Vec<AcrossVar>,
    #[serde(default)]
    on_success: Option<Box<Step>>,
    #[serde(default)]
    on_failure: Option<Box<Step>>,
    #[serde(default)]
    on_abort: Option<Box<Step>>,
    #[serde(default)]
    on_error: Option<Box<Step>>,
    #[serde(default)]
    ensure: Option<Box<Step>>,
}

impl From<RawModifiers> for Modifiers {
    fn from(raw: RawModifiers) -> Self {
        Modifiers {
            timeout: raw.timeout,
            attempts: raw.attempts,
            tags: raw.tags,
            across: raw.across,
            hooks: Hooks {
                on_success: raw.on_success,
                on_failure: raw.on_failure,
                on_abort: raw.on_abort,
                on_error: raw.on_error,
                ensure: raw.ensure,
            },
        }
    }
}

/// One var of an `across` modifier.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcrossVar {
    /// The local var name, used as `((.:name))`.
    pub var: String,
    /// The values, a list (or a var holding one).
    pub values: Value,
    /// How many run at once: a number or `all`.
    #[serde(default)]
    pub max_in_flight: Option<Value>,
    /// Stop the others once one fails.
    #[serde(default)]
    pub fail_fast: bool,
}

/// Steps run after a step or a job, depending on how it ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hooks {
    /// Run when it succeeded.
    pub on_success: Option<Box<Step>>,
    /// Run when it failed.
    pub on_failure: Option<Box<Step>>,
    /// Run when it was aborted.
    pub on_abort: Option<Box<Step>>,
    /// Run when it errored (as opposed to failed).
    pub on_error: Option<Box<Step>>,
    /// Run whatever happened.
    pub ensure: Option<Box<Step>>,
}

impl Hooks {
    /// Iterate over the hooks that are set, with their key.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Step)> {
        [
            ("on_success", &self.on_success),
            ("on_failure", &self.on_failure),
            ("on_abort", &self.on_abort),
            ("on_error", &self.on_error),
            ("ensure", &self.ensure),
        ]
        .into_iter()
        .filter_map(|(key, step)| step.as_deref().map(|step| (key, step)))
    }
}

impl Step {
    /// Return a short label such as `get: stemcell` or `do`, as used in
    /// lint messages.
    pub fn label(&self) -> String {
        match &self.kind {
            StepKind::Get(get) => format!("get: {}", get.get),
            StepKind::Put(put) => format!("put: {}", put.put),
            StepKind::Task(task) => format!("task: {}", task.task),
            StepKind::SetPipeline(step) => format!("set_pipeline: {}", step.set_pipeline),
            StepKind::LoadVar(step) => format!("load_var: {}", step.load_var),
            StepKind::InParallel(_) => "in_parallel".into(),
            StepKind::Do(_) => "do".into(),
            StepKind::Try(_) => "try".into(),
        }
    }

    /// Return the steps nested directly in this one (not its hooks), in
    /// order.
    pub fn children(&self) -> Vec<&Step> {
        match &self.kind {
            StepKind::InParallel(parallel) => parallel.steps.iter().collect(),
            StepKind::Do(steps) => steps.iter().collect(),
            StepKind::Try(step) => vec![step.as_ref()],
            _ => Vec::new(),
        }
    }

    /// Call `visit` on this step and every step below it, hooks included,
    /// depth first in plan order.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Step)) {
        visit(self);
        for child in self.children() {
            child.walk(visit);
        }
        for (_, hook) in self.modifiers.hooks.iter() {
            hook.walk(visit);
        }
    }

    /// Parse a step from its YAML value; errors start with the step's label.
    pub fn from_value(value: Value) -> Result<Step, String> {
        let Value::Mapping(mapping) = value else {
            return Err(format!(
                "a step must be a mapping, got {}",
                describe(&value)
            ));
        };

        let present: Vec<&str> = KINDS
            .iter()
            .map(|(key, _)| *key)
            .filter(|key| mapping.contains_key(*key))
            .collect();
        let (kind_key, kind_keys) = match present.as_slice() {
            [one] => *KINDS
                .iter()
                .find(|(key, _)| key == one)
                .expect("listed kind"),
            [] => {
                let keys: Vec<String> = mapping.keys().map(key_text).collect();
                return Err(format!(
                    "step with keys {} has none of `get`, `put`, `task`, `set_pipeline`, \
                     `load_var`, `in_parallel`, `do`, `try`",
                    keys.join(", ")
                ));
            }
            [first, second, ..] => {
                return Err(format!("a step has both `{first}` and `{second}`"));
            }
        };
        let label = match mapping.get(kind_key) {
            Some(Value::String(name)) => format!("{kind_key}: {name}"),
            _ => kind_key.to_string(),
        };

        // Unknown keys are named against everything the step allows, so the
        // message lists the modifiers too.
        let mut modifiers = Mapping::new();
        let mut own = Mapping::new();
        for (key, inner) in mapping {
            let name = key_text(&key);
            if MODIFIER_KEYS.contains(&name.as_str()) {
                modifiers.insert(key, inner);
            } else if name == kind_key || kind_keys.contains(&name.as_str()) {
                own.insert(key, inner);
            } else {
                let expected: Vec<String> = std::iter::once(kind_key)
                    .chain(kind_keys.iter().copied())
                    .chain(MODIFIER_KEYS.iter().copied())
                    .map(|key| format!("`{key}`"))
                    .collect();
                return Err(format!(
                    "{label}: unknown field `{name}`, expected one of {}",
                    expected.join(", ")
                ));
            }
        }

        let kind = parse_kind(kind_key, own).map_err(|e| format!("{label}: {e}"))?;
        let modifiers: Modifiers = serde_yaml_ng::from_value(Value::Mapping(modifiers))
            .map_err(|e| format!("{label}: {e}"))?;
        Ok(Step { kind, modifiers })
    }
}

/// Build the step kind from its own keys.
fn parse_kind(kind_key: &str, mut own: Mapping) -> Result<StepKind, String> {
    let text = |e: serde_yaml_ng::Error| e.to_string();
    let value = Value::Mapping(own.clone());
    Ok(match kind_key {
        "get" => StepKind::Get(serde_yaml_ng::from_value(value).map_err(text)?),
        "put" => StepKind::Put(serde_yaml_ng::from_value(value).map_err(text)?),
        "task" => StepKind::Task(serde_yaml_ng::from_value(value).map_err(text)?),
        "set_pipeline" => StepKind::SetPipeline(serde_yaml_ng::from_value(value).map_err(text)?),
        "load_var" => StepKind::LoadVar(serde_yaml_ng::from_value(value).map_err(text)?),
        "in_parallel" => {
            let inner = own.remove("in_parallel").unwrap_or(Value::Null);
            let parallel = match inner {
                Value::Sequence(_) => InParallel {
                    steps: serde_yaml_ng::from_value(inner).map_err(text)?,
                    limit: None,
                    fail_fast: false,
                },
                other => serde_yaml_ng::from_value(other).map_err(text)?,
            };
            StepKind::InParallel(parallel)
        }
        "do" => {
            let inner = own.remove("do").unwrap_or(Value::Null);
            StepKind::Do(serde_yaml_ng::from_value(inner).map_err(text)?)
        }
        _ => {
            let inner = own.remove("try").unwrap_or(Value::Null);
            StepKind::Try(Box::new(Step::from_value(inner)?))
        }
    })
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Step::from_value(value).map_err(D::Error::custom)
    }
}

/// Split `artifact/path/in/it` at the first slash.
pub(crate) fn split_artifact_path(file: &str) -> Option<(&str, &str)> {
    file.split_once('/')
        .filter(|(artifact, path)| !artifact.is_empty() && !path.is_empty())
}

/// Render a mapping key for a message.
pub(crate) fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// Name the YAML type of a value for a message.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str) -> Result<Step, String> {
        Step::from_value(serde_yaml_ng::from_str(text).unwrap())
    }

    #[test]
    fn a_get_with_modifiers_and_a_hook_parses() {
        let parsed = step(
            "get: lts\nresource: stemcell\npassed: [sandbox]\ntrigger: true\nversion: every\n\
             attempts: 3\ntimeout: 5m\non_failure: {put: stemcell, no_get: true}\n",
        )
        .unwrap();
        let StepKind::Get(get) = &parsed.kind else {
            panic!("expected a get step, got {parsed:?}");
        };
        assert_eq!(get.resource_name(), "stemcell");
        assert_eq!(get.passed, vec!["sandbox".to_string()]);
        assert_eq!(get.version, Some(GetVersion::Every));
        assert_eq!(parsed.modifiers.attempts, Some(3));
        assert_eq!(parsed.modifiers.timeout.as_deref(), Some("5m"));
        let hooks: Vec<String> = parsed
            .modifiers
            .hooks
            .iter()
            .map(|(key, hook)| format!("{key} {}", hook.label()))
            .collect();
        assert_eq!(hooks, vec!["on_failure put: stemcell".to_string()]);
    }

    #[test]
    fn an_unknown_key_names_the_step_and_what_it_allows() {
        let err = step("put: ledger\nparms: {}\n").unwrap_err();
        assert_eq!(
            err,
            "put: ledger: unknown field `parms`, expected one of `put`, `resource`, `params`, \
             `get_params`, `inputs`, `no_get`, `timeout`, `attempts`, `tags`, `across`, \
             `on_success`, `on_failure`, `on_abort`, `on_error`, `ensure`"
        );
    }

    #[test]
    fn nested_errors_carry_every_label() {
        let err = step("do:\n- try: {task: t, file: a/b.yml, privilegd: true}\n").unwrap_err();
        assert!(
            err.starts_with("do: try: task: t: unknown field `privilegd`, expected one of `task`,"),
            "{err}"
        );
    }

    #[test]
    fn a_step_needs_exactly_one_kind() {
        assert_eq!(
            step("get: a\nput: b\n").unwrap_err(),
            "a step has both `get` and `put`"
        );
        assert_eq!(
            step("trigger: true\n").unwrap_err(),
            "step with keys trigger has none of `get`, `put`, `task`, `set_pipeline`, \
             `load_var`, `in_parallel`, `do`, `try`"
        );
    }

    #[test]
    fn in_parallel_takes_a_list_or_a_mapping() {
        let short = step("in_parallel: [{get: a}, {get: b}]\n").unwrap();
        let long = step("in_parallel: {steps: [{get: a}], limit: 1, fail_fast: true}\n").unwrap();
        assert_eq!(short.children().len(), 2);
        let StepKind::InParallel(parallel) = long.kind else {
            panic!("expected in_parallel");
        };
        assert_eq!((parallel.limit, parallel.fail_fast), (Some(1), true));
    }

    #[test]
    fn walk_visits_nested_steps_and_hooks_in_order() {
        let parsed = step(
            "do:\n- get: a\n- in_parallel: [{task: t, file: a/t.yml}]\n\
             ensure: {put: b}\n",
        )
        .unwrap();
        let mut labels = Vec::new();
        parsed.walk(&mut |s| labels.push(s.label()));
        assert_eq!(
            labels,
            vec!["do", "get: a", "in_parallel", "task: t", "put: b"]
        );
    }

    #[test]
    fn a_task_file_splits_into_artifact_and_path() {
        let parsed = step(
            "task: apply\nfile: patchline/ci/tasks/apply.yml\ninput_mapping: {patch: stemcell}\n",
        )
        .unwrap();
        let StepKind::Task(task) = &parsed.kind else {
            panic!("expected a task step");
        };
        assert_eq!(
            task.file_location(),
            Some(("patchline", "ci/tasks/apply.yml"))
        );
        assert_eq!(task.artifact_for_input("patch"), "stemcell");
        assert_eq!(task.artifact_for_input("config"), "config");
    }
}
