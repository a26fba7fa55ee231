//! A rehearsal of a Concourse pipeline on this machine: the pipeline's own
//! YAML, walked job by job, every step run by the real binaries over the
//! real protocol.
//!
//! What Concourse would do is done the same way here: `check` gets the
//! request on stdin with no environment at all, `in` and `out` get the
//! folder as `$1`, tasks run their config's `run.path` with the params as
//! environment variables, inputs and outputs as folders of the working
//! directory. Scheduling follows Concourse's rules for what the upgrade
//! pipeline uses: `trigger`, `passed` (a version some build of each named
//! job succeeded with) and `version: every`.
//!
//! Not rehearsed, and refused with a clear error: `set_pipeline`,
//! `load_var`, resource types other than the pipeline's own, `time` and
//! `git`. Task images are not pulled: tasks run on this machine with the
//! patchline binaries first on `PATH`. Step timeouts are not enforced.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};
use patchline_concourse::{
    param_env_value, GetStep, GetVersion, Job, Pipeline, PutStep, Resource, Step, StepKind,
    TaskConfig, TaskStep, Vars,
};
use serde_json::{json, Value};

/// How one build ended.
#[derive(Debug, Clone)]
pub struct Build {
    /// The job's name.
    pub job: String,
    /// The build's number within the job.
    pub number: u32,
    /// The version of each resource the build got, by resource name.
    pub inputs: BTreeMap<String, Value>,
    /// Whether the plan succeeded.
    pub succeeded: bool,
    /// The step that failed, with its reason.
    pub failure: Option<String>,
    /// The build's folder, holding its log.
    pub dir: PathBuf,
}

/// A pipeline being rehearsed.
pub struct Rehearsal {
    pipeline: Pipeline,
    pipeline_name: String,
    bin: PathBuf,
    builds_dir: PathBuf,
    /// Folders standing in for `git` resources, by resource name.
    repositories: BTreeMap<String, PathBuf>,
    versions: BTreeMap<String, Vec<Value>>,
    builds: Vec<Build>,
}

impl Rehearsal {
    /// Prepare a rehearsal of `pipeline`; `bin` holds links named `check`,
    /// `in`, `out`, `apply` and `smoke-test`, builds are kept in
    /// `builds_dir`, and each `git` resource is served from the folder
    /// `repositories` names for it.
    pub fn new(
        pipeline: Pipeline,
        pipeline_name: &str,
        bin: &Path,
        builds_dir: &Path,
        repositories: BTreeMap<String, PathBuf>,
    ) -> Self {
        Rehearsal {
            pipeline,
            pipeline_name: pipeline_name.to_string(),
            bin: bin.to_path_buf(),
            builds_dir: builds_dir.to_path_buf(),
            repositories,
            versions: BTreeMap::new(),
            builds: Vec::new(),
        }
    }

    /// Return every build so far, in the order they ran.
    pub fn builds(&self) -> &[Build] {
        &self.builds
    }

    /// Check every resource once, as Concourse's checker would.
    pub fn check_all(&mut self) -> anyhow::Result<()> {
        for resource in self.pipeline.resources.clone() {
            let found = match resource.type_.as_str() {
                "time" => vec![json!({"time": chrono::Utc::now().to_rfc3339()})],
                "git" => vec![json!({"ref": "rehearsal"})],
                own if self.pipeline.resource_type(own).is_some() => {
                    let last = self
                        .versions
                        .get(&resource.name)
                        .and_then(|v| v.last())
                        .cloned();
                    let request = json!({"source": to_json(&resource.source)?, "version": last});
                    let answer = self
                        .resource_command("check", &[], &request, &[], None)
                        .with_context(|| format!("check of {}", resource.name))?;
                    serde_json::from_value(answer)
                        .context("check answered something else than a list")?
                }
                other => bail!(
                    "resource {}: type {other} cannot be rehearsed",
                    resource.name
                ),
            };
            let known = self.versions.entry(resource.name.clone()).or_default();
            // A time or git stand-in has one version for the whole rehearsal.
            if matches!(resource.type_.as_str(), "time" | "git") && !known.is_empty() {
                continue;
            }
            for version in found {
                if !known.contains(&version) {
                    known.push(version);
                }
            }
        }
        Ok(())
    }

    /// Run every build the triggers call for, until none is pending.
    /// Return the builds that ran.
    pub fn settle(&mut self) -> anyhow::Result<Vec<Build>> {
        let mut ran = Vec::new();
        loop {
            let mut progress = false;
            for job in self
                .pipeline
                .jobs_in_order()
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
            {
                while let Some(inputs) = self.pending(&job, true) {
                    ran.push(self.run_build(&job, inputs)?);
                    progress = true;
                }
            }
            if !progress {
                return Ok(ran);
            }
        }
    }

    /// Trigger `job` by hand, as `fly trigger-job` does; `None` when no
    /// version satisfies its `passed` constraints yet.
    pub fn trigger(&mut self, job_name: &str) -> anyhow::Result<Option<Build>> {
        let job = self
            .pipeline
            .job(job_name)
            .ok_or_else(|| anyhow!("no job {job_name} in the pipeline"))?
            .clone();
        match self.pending(&job, false) {
            Some(inputs) => Ok(Some(self.run_build(&job, inputs)?)),
            None => Ok(None),
        }
    }

    /// Choose the inputs of the next build of `job`; with `automatic`, only
    /// when a `trigger: true` get has a version no build of the job had.
    fn pending(&self, job: &Job, automatic: bool) -> Option<BTreeMap<String, Value>> {
        let mut inputs = BTreeMap::new();
        let mut triggered = !automatic;
        let mut gets = Vec::new();
        for step in &job.plan {
            step.walk(&mut |step| {
                if let StepKind::Get(get) = &step.kind {
                    gets.push(get.clone());
                }
            });
        }
        for get in gets {
            let resource = get.resource_name().to_string();
            let candidates = self.candidates(&get);
            let used = |version: &Value| {
                self.builds
                    .iter()
                    .any(|b| b.job == job.name && b.inputs.get(&resource) == Some(version))
            };
            let chosen = match get.version {
                Some(GetVersion::Every) => {
                    candidates.iter().find(|v| !used(v)).or(candidates.last())
                }
                Some(GetVersion::Pinned(_)) | Some(GetVersion::Latest) | None => candidates.last(),
            }?;
            if get.trigger && !used(chosen) {
                triggered = true;
            }
            inputs.insert(resource, chosen.clone());
        }
        triggered.then_some(inputs)
    }

    /// Versions of a get's resource that pass its `passed` constraints.
    fn candidates(&self, get: &GetStep) -> Vec<Value> {
        let resource = get.resource_name();
        self.versions
            .get(resource)
            .map(|versions| {
                versions
                    .iter()
                    .filter(|version| {
                        get.passed.iter().all(|job| {
                            self.builds.iter().any(|b| {
                                &b.job == job
                                    && b.succeeded
                                    && b.inputs.get(resource) == Some(*version)
                            })
                        })
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn run_build(&mut self, job: &Job, inputs: BTreeMap<String, Value>) -> anyhow::Result<Build> {
        let number = self.builds.iter().filter(|b| b.job == job.name).count() as u32 + 1;
        let dir = self.builds_dir.join(&job.name).join(number.to_string());
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let build_env = vec![
            ("BUILD_ID".to_string(), (self.builds.len() + 1).to_string()),
            ("BUILD_NAME".to_string(), number.to_string()),
            ("BUILD_JOB_NAME".to_string(), job.name.clone()),
            (
                "BUILD_PIPELINE_NAME".to_string(),
                self.pipeline_name.clone(),
            ),
            ("BUILD_TEAM_NAME".to_string(), "main".to_string()),
        ];
        let mut context = BuildContext {
            rehearsal: self,
            dir: dir.clone(),
            inputs: &inputs,
            artifacts: BTreeMap::new(),
            build_env,
            tasks_run: 0,
        };

        let mut result = context.run_steps(&job.plan);
        let hook = if result.is_ok() {
            &job.hooks.on_success
        } else {
            &job.hooks.on_failure
        };
        if let Some(hook) = hook {
            if let Err(err) = context.run_step(hook) {
                result = result.and(Err(err));
            }
        }
        if let Some(ensure) = &job.hooks.ensure {
            if let Err(err) = context.run_step(ensure) {
                result = result.and(Err(err));
            }
        }

        let build = Build {
            job: job.name.clone(),
            number,
            inputs,
            succeeded: result.is_ok(),
            failure: result.err(),
            dir,
        };
        self.builds.push(build.clone());
        Ok(build)
    }

    /// Run a resource command (`check`, `in`, `out`) as Concourse does:
    /// request on stdin, `args` as argv, only `env` in the environment
    /// (none at all for `check`), and return its stdout as JSON.
    fn resource_command(
        &self,
        command: &str,
        args: &[&Path],
        request: &Value,
        env: &[(String, String)],
        log: Option<&Path>,
    ) -> anyhow::Result<Value> {
        let mut child = Command::new(self.bin.join(command));
        child
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)));
        let output = run_logged(child, Some(request.to_string()), log)?;
        if !output.0 {
            bail!("{command} failed: {}", output.2);
        }
        serde_json::from_str(&output.1)
            .with_context(|| format!("{command} printed no JSON on stdout"))
    }
}

/// What one build has so far: its artifacts, by name.
struct BuildContext<'a> {
    rehearsal: &'a Rehearsal,
    dir: PathBuf,
    inputs: &'a BTreeMap<String, Value>,
    artifacts: BTreeMap<String, PathBuf>,
    build_env: Vec<(String, String)>,
    tasks_run: usize,
}

/// A failed step, as one line: `smoke-test: exited 1`.
type StepResult = Result<(), String>;

impl BuildContext<'_> {
    fn log(&self) -> PathBuf {
        self.dir.join("build.log")
    }

    fn run_steps(&mut self, steps: &[Step]) -> StepResult {
        steps.iter().try_for_each(|step| self.run_step(step))
    }

    fn run_step(&mut self, step: &Step) -> StepResult {
        let attempts = step.modifiers.attempts.unwrap_or(1).max(1);
        let mut result = Ok(());
        for _ in 0..attempts {
            result = self.run_kind(&step.kind);
            if result.is_ok() {
                break;
            }
        }
        let hooks = &step.modifiers.hooks;
        let hook = if result.is_ok() {
            &hooks.on_success
        } else {
            &hooks.on_failure
        };
        if let Some(hook) = hook {
            result = result.and(self.run_step(hook));
        }
        if let Some(ensure) = &hooks.ensure {
            result = result.and(self.run_step(ensure));
        }
        result
    }

    fn run_kind(&mut self, kind: &StepKind) -> StepResult {
        match kind {
            StepKind::Get(get) => self
                .get(get)
                .map_err(|err| format!("get {}: {err:#}", get.get)),
            StepKind::Put(put) => self
                .put(put)
                .map_err(|err| format!("put {}: {err:#}", put.put)),
            StepKind::Task(task) => self.task(task),
            StepKind::Do(steps) => self.run_steps(steps),
            StepKind::InParallel(parallel) => self.run_steps(&parallel.steps),
            StepKind::Try(step) => {
                let _ = self.run_step(step);
                Ok(())
            }
            StepKind::SetPipeline(_) | StepKind::LoadVar(_) => {
                Err("set_pipeline and load_var steps cannot be rehearsed".into())
            }
        }
    }

    fn get(&mut self, get: &GetStep) -> anyhow::Result<()> {
        let resource_name = get.resource_name();
        let resource = self
            .rehearsal
            .pipeline
            .resource(resource_name)
            .ok_or_else(|| anyhow!("no resource {resource_name}"))?;
        let version = self
            .inputs
            .get(resource_name)
            .ok_or_else(|| anyhow!("no version of {resource_name} was chosen"))?;
        let dest = self.dir.join(&get.get);
        fs::create_dir_all(&dest)?;
        match resource.type_.as_str() {
            "git" => {
                let repository =
                    self.rehearsal
                        .repositories
                        .get(resource_name)
                        .ok_or_else(|| {
                            anyhow!("no folder stands in for git resource {resource_name}")
                        })?;
                copy_tree(repository, &dest)?;
            }
            "time" => fs::write(dest.join("input"), version.to_string())?,
            _ => self.fetch(resource, version, &get.params, &dest)?,
        }
        self.artifacts.insert(get.get.clone(), dest);
        Ok(())
    }

    /// Run `in` of `resource` at `version` into `dest`, as a get does.
    fn fetch(
        &self,
        resource: &Resource,
        version: &Value,
        params: &BTreeMap<String, serde_yaml_ng::Value>,
        dest: &Path,
    ) -> anyhow::Result<()> {
        let request = json!({
            "source": to_json(&resource.source)?,
            "version": version,
            "params": to_json(params)?,
        });
        self.rehearsal.resource_command(
            "in",
            &[dest],
            &request,
            &resource_env(),
            Some(&self.log()),
        )?;
        Ok(())
    }

    fn put(&mut self, put: &PutStep) -> anyhow::Result<()> {
        let resource_name = put.resource_name();
        let resource = self
            .rehearsal
            .pipeline
            .resource(resource_name)
            .ok_or_else(|| anyhow!("no resource {resource_name}"))?;

        // Every artifact is a folder of the build's own folder, as `out`
        // sees them in its `$1`.
        let request =
            json!({"source": to_json(&resource.source)?, "params": to_json(&put.params)?});
        let mut env = resource_env();
        env.extend(self.build_env.iter().cloned());
        let answer = self.rehearsal.resource_command(
            "out",
            &[&self.dir],
            &request,
            &env,
            Some(&self.log()),
        )?;

        if !put.no_get {
            let dest = self.dir.join(&put.put);
            let _ = fs::remove_dir_all(&dest);
            fs::create_dir_all(&dest)?;
            self.fetch(resource, &answer["version"], &put.get_params, &dest)?;
            self.artifacts.insert(put.put.clone(), dest);
        }
        Ok(())
    }

    fn task(&mut self, task: &TaskStep) -> StepResult {
        let fail = |err: anyhow::Error| format!("{}: {err:#}", task.task);
        let config = self.task_config(task).map_err(fail)?;
        self.tasks_run += 1;
        let work = self
            .dir
            .join(format!(".task-{}-{}", self.tasks_run, task.task));
        fs::create_dir_all(&work).map_err(|err| fail(err.into()))?;

        for input in &config.inputs {
            let artifact = task.artifact_for_input(&input.name);
            match self.artifacts.get(artifact) {
                Some(path) => {
                    let link = work.join(input.path.as_deref().unwrap_or(&input.name));
                    std::os::unix::fs::symlink(path, link).map_err(|err| fail(err.into()))?;
                }
                None if input.optional => {}
                None => return Err(format!("{}: input {} is missing", task.task, input.name)),
            }
        }
        // An output is a fresh folder of the build, where the task sees it
        // at its path; it replaces an artifact of the same name.
        let mut outputs = Vec::new();
        for output in &config.outputs {
            let artifact = task.artifact_for_output(&output.name).to_string();
            let folder = self.dir.join(&artifact);
            let _ = fs::remove_dir_all(&folder);
            fs::create_dir_all(&folder).map_err(|err| fail(err.into()))?;
            let path = work.join(output.path.as_deref().unwrap_or(&output.name));
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|err| fail(err.into()))?;
            }
            std::os::unix::fs::symlink(&folder, &path).map_err(|err| fail(err.into()))?;
            outputs.push((artifact, folder));
        }

        let mut params: BTreeMap<String, String> = config
            .params
            .iter()
            .map(|(k, v)| (k.clone(), param_env_value(v)))
            .collect();
        params.extend(
            task.params
                .iter()
                .map(|(k, v)| (k.clone(), param_env_value(v))),
        );
        let program = if config.run.path.contains('/') {
            work.join(&config.run.path)
        } else {
            self.rehearsal.bin.join(&config.run.path)
        };
        let mut command = Command::new(program);
        command
            .args(&config.run.args)
            .current_dir(work.join(config.run.dir.as_deref().unwrap_or(".")))
            .env_clear()
            .envs(&params)
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/bin:/usr/bin:/bin",
                    self.rehearsal.bin.display()
                ),
            )
            .env("TMPDIR", &work);
        let (ok, _, reason) = run_logged(command, None, Some(&self.log())).map_err(fail)?;

        // Outputs of a failed task still reach the hooks, as in Concourse.
        self.artifacts.extend(outputs);
        if ok {
            Ok(())
        } else {
            Err(format!("{}: {reason}", task.task))
        }
    }

    fn task_config(&self, task: &TaskStep) -> anyhow::Result<TaskConfig> {
        if let Some(config) = &task.config {
            return Ok(config.clone());
        }
        let (artifact, path) = task
            .file_location()
            .ok_or_else(|| anyhow!("neither file nor config is given"))?;
        let dir = self.artifacts.get(artifact).ok_or_else(|| {
            anyhow!("file {artifact}/{path}: no artifact {artifact} in this build")
        })?;
        let text = fs::read_to_string(dir.join(path))
            .with_context(|| format!("cannot read {artifact}/{path}"))?;
        let mut vars = Vars::new();
        for (name, value) in &task.vars {
            vars.set(name.clone(), value.clone());
        }
        Ok(TaskConfig::from_yaml(&text, Some(&vars))?)
    }
}

/// The environment a resource container has: a `PATH`, nothing of the
/// build (only `out` gets the build's variables).
fn resource_env() -> Vec<(String, String)> {
    vec![(
        "PATH".to_string(),
        "/usr/local/bin:/usr/bin:/bin".to_string(),
    )]
}

/// Run `command`, feeding `stdin`, appending its stderr (and, when there is
/// no stdin, its stdout) to `log`. Return success, stdout and the last
/// stderr line as the reason.
fn run_logged(
    mut command: Command,
    stdin: Option<String>,
    log: Option<&Path>,
) -> anyhow::Result<(bool, String, String)> {
    use std::io::Write;

    let is_resource = stdin.is_some();
    command
        .stdin(if is_resource {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", command.get_program().to_string_lossy()))?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if let Some(log) = log {
        let mut file = fs::OpenOptions::new().create(true).append(true).open(log)?;
        let program = command.get_program().to_string_lossy().into_owned();
        writeln!(
            file,
            "$ {}",
            Path::new(&program)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        )?;
        // A resource's stdout is its protocol answer; a task's is its log.
        if !is_resource {
            file.write_all(stdout.as_bytes())?;
        }
        file.write_all(stderr.as_bytes())?;
    }
    let reason = stderr
        .lines()
        .rfind(|line| !line.trim().is_empty())
        .unwrap_or("no message")
        .to_string();
    let reason = match output.status.code() {
        Some(code) if !output.status.success() => format!("exited {code}: {reason}"),
        _ => reason,
    };
    Ok((output.status.success(), stdout, reason))
}

fn to_json(value: &impl serde::Serialize) -> anyhow::Result<Value> {
    serde_json::to_value(value).context("cannot turn YAML into JSON")
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
