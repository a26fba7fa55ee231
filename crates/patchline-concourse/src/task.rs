//! Task config: the model of what a Concourse task runs (`ci/tasks/*.yml`
//! or a task step's inline `config:`), parsed as strictly as Concourse
//! parses it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::vars::Vars;
use crate::ConfigError;

/// A task's configuration: where it runs, what it reads and writes, and the
/// process it starts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// The worker platform, in practice `linux`, `darwin` or `windows`.
    pub platform: String,
    /// The container image, as an anonymous resource.
    #[serde(default)]
    pub image_resource: Option<ImageResource>,
    /// Artifacts the task expects in its working directory.
    #[serde(default)]
    pub inputs: Vec<TaskInput>,
    /// Artifacts the task produces for later steps.
    #[serde(default)]
    pub outputs: Vec<TaskOutput>,
    /// Directories kept between runs of the task on the same worker.
    #[serde(default)]
    pub caches: Vec<TaskCache>,
    /// Default environment of the process; a step's `params` override them.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// The process to start.
    pub run: TaskRun,
    /// A raw root filesystem, an alternative to `image_resource`.
    #[serde(default)]
    pub rootfs_uri: Option<String>,
    /// CPU and memory limits of the container.
    #[serde(default)]
    pub container_limits: Option<ContainerLimits>,
}

impl TaskConfig {
    /// Parse a task config file, replacing `((vars))` first when `vars` is
    /// given (an unset var is then an error naming every unset one).
    pub fn from_yaml(text: &str, vars: Option<&Vars>) -> Result<Self, ConfigError> {
        let mut value = crate::parse_yaml(text)?;
        if let Some(vars) = vars {
            vars.interpolate(&mut value)?;
        }
        Self::from_value(value)
    }

    /// Build a task config from an already parsed YAML value.
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        serde_yaml_ng::from_value(value).map_err(|e| ConfigError::Invalid {
            location: "task config".into(),
            message: e.to_string(),
        })
    }

    /// Return the input called `name`.
    pub fn input(&self, name: &str) -> Option<&TaskInput> {
        self.inputs.iter().find(|input| input.name == name)
    }
}

/// An anonymous resource that provides a task's image.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageResource {
    /// The resource type, usually `registry-image`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The resource's source config.
    pub source: BTreeMap<String, Value>,
    /// Params of the implicit get.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// A pinned version.
    #[serde(default)]
    pub version: Option<BTreeMap<String, Value>>,
}

/// An artifact a task reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// The artifact name, matched against artifacts of earlier steps.
    pub name: String,
    /// Where to place it, relative to the working directory (default: the name).
    #[serde(default)]
    pub path: Option<String>,
    /// Whether the task may run without it.
    #[serde(default)]
    pub optional: bool,
}

/// An artifact a task writes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskOutput {
    /// The artifact name later steps refer to.
    pub name: String,
    /// Where the task writes it, relative to the working directory.
    #[serde(default)]
    pub path: Option<String>,
}

/// A cached directory of a task.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCache {
    /// The directory, relative to the working directory.
    pub path: String,
}

/// The process a task runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRun {
    /// The command, looked up in `$PATH` when it has no slash.
    pub path: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Its working directory, relative to the task's.
    #[serde(default)]
    pub dir: Option<String>,
    /// The user to run as.
    #[serde(default)]
    pub user: Option<String>,
}

/// Resource limits of a task container.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerLimits {
    /// CPU shares.
    #[serde(default)]
    pub cpu: Option<u64>,
    /// Memory in bytes.
    #[serde(default)]
    pub memory: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLY_TASK: &str = "\
platform: linux
image_resource:
  type: registry-image
  source: {repository: ((patchline_image)), tag: ((patchline_tag))}
inputs:
- name: patch
- name: config
  optional: true
outputs:
- name: applied
params:
  ENVIRONMENT:
  LOCK_TIMEOUT: 10m
run:
  path: apply
";

    #[test]
    fn a_task_file_parses_with_its_vars() {
        let mut vars = Vars::new();
        vars.set("patchline_image", "registry.test/patchline");
        vars.set("patchline_tag", "1.2.3");
        let task = TaskConfig::from_yaml(APPLY_TASK, Some(&vars)).unwrap();
        let image = task.image_resource.as_ref().unwrap();
        assert_eq!(
            image.source["repository"],
            Value::String("registry.test/patchline".into())
        );
        assert_eq!(task.input("config").map(|i| i.optional), Some(true));
        assert_eq!(task.input("patch").map(|i| i.optional), Some(false));
        assert_eq!(task.outputs[0].name, "applied");
        assert_eq!(task.params["ENVIRONMENT"], Value::Null);
        assert_eq!(task.run.path, "apply");
    }

    #[test]
    fn an_unknown_run_key_is_rejected() {
        let err = TaskConfig::from_yaml("platform: linux\nrun: {path: x, argv: [a]}\n", None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "task config: unknown field `argv`, expected one of `path`, `args`, `dir`, `user`"
        );
    }
}
