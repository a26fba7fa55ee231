//! patchline-concourse: a typed model of Concourse pipeline and task
//! config, `((var))` interpolation, and a lint that finds what Concourse
//! would reject before `fly set-pipeline` does.
//!
//! The model is meant to be walked: a rehearsal of a pipeline takes
//! [`Pipeline::jobs_in_order`], then matches each [`Step`]'s [`StepKind`]
//! (`Get`, `Put`, `Task`, ...) and runs it.
//!
//! ```
//! use patchline_concourse::{lint, LintOptions, Pipeline, StepKind, Vars};
//!
//! let yaml = "\
//! resources:
//! - {name: repo, type: git, source: {uri: ((repo_uri))}}
//! jobs:
//! - name: test
//!   plan:
//!   - get: repo
//!     trigger: true
//! ";
//! let vars = Vars::from_yaml("repo_uri: https://git.example/repo.git").unwrap();
//! assert!(lint(yaml, &LintOptions::new().with_vars(vars.clone())).is_empty());
//!
//! let pipeline = Pipeline::from_yaml(yaml, Some(&vars)).unwrap();
//! let job = &pipeline.jobs_in_order()[0];
//! assert!(matches!(&job.plan[0].kind, StepKind::Get(get) if get.trigger));
//! ```

mod lint;
mod pipeline;
mod step;
mod task;
mod vars;

pub use lint::{lint, lint_task, LintOptions, Problem};
pub use pipeline::{
    BuildLogRetention, Display, Group, Job, Pipeline, Resource, ResourceType, VarSource,
    BUILT_IN_RESOURCE_TYPES,
};
pub use step::{
    AcrossVar, GetStep, GetVersion, Hooks, InParallel, LoadVarStep, Modifiers, PutStep,
    SetPipelineStep, Step, StepKind, TaskStep,
};
pub use task::{
    ContainerLimits, ImageResource, TaskCache, TaskConfig, TaskInput, TaskOutput, TaskRun,
};
pub use vars::{param_env_value, Vars, VarsError};

use serde_yaml_ng::Value;

/// Errors of parsing a pipeline or task config strictly.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A `((var))` could not be replaced.
    #[error(transparent)]
    Vars(#[from] VarsError),
    /// The YAML does not fit the config's schema.
    #[error("{location}: {message}")]
    Invalid {
        /// Which part of the config is wrong.
        location: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Parse YAML text into a value with anchors, aliases and `<<` merge keys
/// resolved, as Concourse's own YAML reader does.
pub(crate) fn parse_yaml(text: &str) -> Result<Value, ConfigError> {
    let mut value: Value =
        serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
    value
        .apply_merge()
        .map_err(|e| ConfigError::Yaml(e.to_string()))?;
    Ok(value)
}
