//! Pipeline config: the model of a whole `fly set-pipeline -c` file
//! (resources, resource types, jobs, groups, var sources, display).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::step::{Hooks, Step, StepKind};
use crate::vars::Vars;
use crate::ConfigError;

/// Resource types every Concourse worker provides without a declaration.
pub const BUILT_IN_RESOURCE_TYPES: &[&str] = &[
    "bosh-io-release",
    "bosh-io-stemcell",
    "cf",
    "docker-image",
    "git",
    "github-release",
    "hg",
    "mock",
    "pool",
    "registry-image",
    "s3",
    "semver",
    "time",
    "tracker",
];

/// A whole pipeline config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// External state the jobs fetch and push.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Resource types beyond the built-in ones.
    #[serde(default)]
    pub resource_types: Vec<ResourceType>,
    /// The jobs, in declaration order.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Tabs of the web UI.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Where run-time `((source:var))` values come from.
    #[serde(default)]
    pub var_sources: Vec<VarSource>,
    /// How the pipeline looks in the web UI.
    #[serde(default)]
    pub display: Option<Display>,
}

impl Pipeline {
    /// Parse a pipeline config, replacing `((vars))` first when `vars` is
    /// given; fails on the first problem. Use [`crate::lint`] to get every
    /// problem at once.
    pub fn from_yaml(text: &str, vars: Option<&Vars>) -> Result<Self, ConfigError> {
        let mut value = crate::parse_yaml(text)?;
        if let Some(vars) = vars {
            vars.interpolate(&mut value)?;
        }
        serde_yaml_ng::from_value(value).map_err(|e| ConfigError::Invalid {
            location: "pipeline".into(),
            message: e.to_string(),
        })
    }

    /// Return the resource called `name`.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// Return the resource type called `name`, when the pipeline declares it.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types.iter().find(|t| t.name == name)
    }

    /// Return the job called `name`.
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
    }

    /// Return the jobs so that every job comes after the jobs its `passed:`
    /// constraints name, keeping declaration order otherwise: the order a
    /// rehearsal runs them in. Jobs in a `passed:` cycle (which Concourse
    /// allows but no rehearsal can order) come last, in declaration order.
    pub fn jobs_in_order(&self) -> Vec<&Job> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut ordered = Vec::with_capacity(self.jobs.len());
        loop {
            let next = self.jobs.iter().find(|job| {
                !done.contains(job.name.as_str())
                    && job
                        .upstream_jobs()
                        .iter()
                        .all(|up| done.contains(up.as_str()) || self.job(up).is_none())
            });
            match next {
                Some(job) => {
                    done.insert(&job.name);
                    ordered.push(job);
                }
                None => break,
            }
        }
        ordered.extend(self.jobs.iter().filter(|j| !done.contains(j.name.as_str())));
        ordered
    }
}

/// A resource: one external, versioned thing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// The name steps refer to.
    pub name: String,
    /// Its resource type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Config handed to the resource type's `check`, `in` and `out`.
    pub source: BTreeMap<String, Value>,
    /// How often to look for new versions (Go duration or `never`).
    #[serde(default)]
    pub check_every: Option<String>,
    /// How long one check may take.
    #[serde(default)]
    pub check_timeout: Option<String>,
    /// A Material Design icon name for the UI.
    #[serde(default)]
    pub icon: Option<String>,
    /// Worker tags for its containers.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Show its metadata to everyone.
    #[serde(default)]
    pub public: bool,
    /// A token that lets a webhook trigger a check.
    #[serde(default)]
    pub webhook_token: Option<String>,
    /// A pinned version.
    #[serde(default)]
    pub version: Option<BTreeMap<String, Value>>,
    /// A former name whose history it inherits.
    #[serde(default)]
    pub old_name: Option<String>,
    /// Pass the build's creator to `out` as `BUILD_CREATED_BY`.
    #[serde(default)]
    pub expose_build_created_by: bool,
}

/// A resource type declared by the pipeline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceType {
    /// The name resources use as their `type`.
    pub name: String,
    /// The type of the resource that provides its image.
    #[serde(rename = "type")]
    pub type_: String,
    /// Config of that image resource.
    pub source: BTreeMap<String, Value>,
    /// Run its containers privileged.
    #[serde(default)]
    pub privileged: bool,
    /// Params of the image's get.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// How often to look for new images.
    #[serde(default)]
    pub check_every: Option<String>,
    /// Worker tags for its containers.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Source keys every resource of this type gets unless it sets them.
    #[serde(default)]
    pub defaults: BTreeMap<String, Value>,
}

/// How many builds of a job keep their logs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildLogRetention {
    /// Keep logs of builds this many days old or newer.
    #[serde(default)]
    pub days: Option<u32>,
    /// Keep logs of this many builds.
    #[serde(default)]
    pub builds: Option<u32>,
    /// Always keep logs of this many successful builds.
    #[serde(default)]
    pub minimum_succeeded_builds: Option<u32>,
}

/// A job: a build plan and how its builds are scheduled.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawJob")]
pub struct Job {
    /// The name, shown in URLs and used by `passed:`.
    pub name: String,
    /// The steps of every build.
    pub plan: Vec<Step>,
    /// Run builds one at a time.
    pub serial: bool,
    /// Builds of jobs sharing a group run one at a time.
    pub serial_groups: Vec<String>,
    /// How many builds may run at once.
    pub max_in_flight: Option<u32>,
    /// Which build logs to keep.
    pub build_log_retention: Option<BuildLogRetention>,
    /// Keep logs of this many builds (older form of `build_log_retention`).
    pub build_logs_to_retain: Option<u32>,
    /// Show build logs to everyone.
    pub public: bool,
    /// Refuse `fly trigger-job` and the UI's + button.
    pub disable_manual_trigger: bool,
    /// Abort a running build when a newer one is queued.
    pub interruptible: bool,
    /// Steps run after the plan, depending on how it ended.
    pub hooks: Hooks,
    /// A former name whose builds it inherits.
    pub old_name: Option<String>,
}

impl Job {
    /// Call `visit` on every step of the plan and of the job's hooks.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Step)) {
        for step in &self.plan {
            step.walk(visit);
        }
        for (_, hook) in self.hooks.iter() {
            hook.walk(visit);
        }
    }

    /// Return the resources the job gets, puts, or both.
    pub fn resources_used(&self) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        self.walk(&mut |step| match &step.kind {
            StepKind::Get(get) => {
                used.insert(get.resource_name().to_string());
            }
            StepKind::Put(put) => {
                used.insert(put.resource_name().to_string());
            }
            _ => {}
        });
        used
    }

    /// Return the jobs named in the `passed:` constraints of its gets.
    pub fn upstream_jobs(&self) -> BTreeSet<String> {
        let mut upstream = BTreeSet::new();
        self.walk(&mut |step| {
            if let StepKind::Get(get) = &step.kind {
                upstream.extend(get.passed.iter().cloned());
            }
        });
        upstream
    }
}

/// The job keys as they are written, hooks beside the rest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    plan: Vec<Step>,
    #[serde(default)]
    serial: bool,
    #[serde(default)]
    serial_groups: Vec<String>,
    #[serde(default)]
    max_in_flight: Option<u32>,
    #[serde(default)]
    build_log_retention: Option<BuildLogRetention>,
    #[serde(default)]
    build_logs_to_retain: Option<u32>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    disable_manual_trigger: bool,
    #[serde(default)]
    interruptible: bool,
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
    #[serde(default)]
    old_name: Option<String>,
}

impl TryFrom<RawJob> for Job {
    type Error = String;

    fn try_from(raw: RawJob) -> Result<Self, Self::Error> {
        Ok(Job {
            name: raw.name,
            plan: raw.plan,
            serial: raw.serial,
            serial_groups: raw.serial_groups,
            max_in_flight: raw.max_in_flight,
            build_log_retention: raw.build_log_retention,
            build_logs_to_retain: raw.build_logs_to_retain,
            public: raw.public,
            disable_manual_trigger: raw.disable_manual_trigger,
            interruptible: raw.interruptible,
            hooks: Hooks {
                on_success: raw.on_success,
                on_failure: raw.on_failure,
                on_abort: raw.on_abort,
                on_error: raw.on_error,
                ensure: raw.ensure,
            },
            old_name: raw.old_name,
        })
    }
}

/// A tab of the web UI listing some jobs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The tab's name.
    pub name: String,
    /// Job names or globs such as `*-stemcell`.
    #[serde(default)]
    pub jobs: Vec<String>,
}

/// A source of run-time vars, referenced as `((name:path))`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VarSource {
    /// The prefix placeholders use.
    pub name: String,
    /// The credential manager, e.g. `vault`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Its configuration.
    pub config: BTreeMap<String, Value>,
}

/// How the pipeline looks in the web UI.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Display {
    /// An image URL shown behind the pipeline.
    #[serde(default)]
    pub background_image: Option<String>,
    /// A CSS filter applied to it.
    #[serde(default)]
    pub background_filter: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = "\
resources:
- {name: src, type: git, source: {uri: ((uri))}}
jobs:
- name: prod
  plan: [{get: src, passed: [dev]}]
- name: sandbox
  plan: [{get: src, trigger: true}]
  on_failure: {put: src}
- name: dev
  plan: [{get: src, passed: [sandbox]}]
";

    #[test]
    fn jobs_come_after_the_jobs_they_pass_through() {
        let mut vars = Vars::new();
        vars.set("uri", "https://git.test/repo");
        let pipeline = Pipeline::from_yaml(CHAIN, Some(&vars)).unwrap();
        let order: Vec<&str> = pipeline
            .jobs_in_order()
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        assert_eq!(order, vec!["sandbox", "dev", "prod"]);
        assert_eq!(
            pipeline.resource("src").unwrap().source["uri"],
            Value::String("https://git.test/repo".into())
        );
        let sandbox = pipeline.job("sandbox").unwrap();
        assert_eq!(sandbox.hooks.iter().count(), 1);
        assert_eq!(
            sandbox.resources_used().into_iter().collect::<Vec<_>>(),
            vec!["src".to_string()]
        );
    }

    #[test]
    fn an_unset_var_fails_the_strict_parse() {
        let err = Pipeline::from_yaml(CHAIN, Some(&Vars::new())).unwrap_err();
        assert_eq!(err.to_string(), "undefined vars: uri");
    }

    #[test]
    fn a_cycle_keeps_declaration_order_at_the_end() {
        let pipeline = Pipeline::from_yaml(
            "jobs:\n- {name: a, plan: [{get: r, passed: [b]}]}\n\
             - {name: b, plan: [{get: r, passed: [a]}]}\n- {name: c, plan: []}\n",
            None,
        )
        .unwrap();
        let order: Vec<&str> = pipeline
            .jobs_in_order()
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        assert_eq!(order, vec!["c", "a", "b"]);
    }
}
