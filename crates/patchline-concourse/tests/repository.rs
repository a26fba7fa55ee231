//! Repository configs: every pipeline, vars file and task config under
//! `pipelines/` and `ci/` must be something Concourse accepts, and the
//! upgrade pipeline must have the shape the docs promise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use patchline_concourse::{
    lint, lint_task, param_env_value, GetVersion, LintOptions, Pipeline, StepKind, Vars, VarsError,
};
use serde_yaml_ng::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example_vars() -> Vars {
    let text = std::fs::read_to_string(repo_root().join("pipelines/vars.example.yml")).unwrap();
    Vars::from_yaml(&text).unwrap()
}

/// Return every YAML file under `dir`, sorted; none when it does not exist.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(yaml_files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Lint options for the repository: the `patchline` git resource is this
/// repository, once its task files exist.
fn repository_options() -> LintOptions {
    let root = repo_root();
    let options = LintOptions::new().with_vars(example_vars());
    let tasks = ["ci/tasks/apply.yml", "ci/tasks/smoke-test.yml"];
    if tasks.iter().all(|task| root.join(task).is_file()) {
        options.with_artifact("patchline", root)
    } else {
        eprintln!("ci/tasks is not complete yet: task files are trusted, not read");
        options
    }
}

fn upgrade_pipeline() -> Pipeline {
    let text = std::fs::read_to_string(repo_root().join("pipelines/upgrade.yml")).unwrap();
    Pipeline::from_yaml(&text, Some(&example_vars())).unwrap()
}

#[test]
fn every_yaml_file_under_pipelines_and_ci_passes_the_lint() {
    let root = repo_root();
    let options = repository_options();
    let mut files = yaml_files(&root.join("pipelines"));
    files.extend(yaml_files(&root.join("ci")));
    assert!(
        files.iter().any(|f| f.ends_with("pipelines/upgrade.yml")),
        "{files:?}"
    );

    let mut kinds = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let top: Value = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", file.display()));
        let problems = if name.starts_with("vars") {
            Vars::from_yaml(&text)
                .err()
                .map(|e| vec![e.to_string()])
                .unwrap_or_default()
        } else if top.get("jobs").is_some() {
            lint(&text, &options)
                .iter()
                .map(|p| p.to_string())
                .collect()
        } else if top.get("platform").is_some() {
            lint_task(&text, options.vars.as_ref())
                .iter()
                .map(|p| p.to_string())
                .collect()
        } else {
            vec!["neither a pipeline, a task config nor a vars file".to_string()]
        };
        assert_eq!(problems, Vec::<String>::new(), "{}", file.display());
        kinds.push(name);
    }
    assert!(kinds.contains(&"vars.example.yml".to_string()));
}

#[test]
fn the_example_vars_set_exactly_the_vars_the_pipeline_uses() {
    let text = std::fs::read_to_string(repo_root().join("pipelines/upgrade.yml")).unwrap();
    let Err(patchline_concourse::ConfigError::Vars(VarsError::Unset(used))) =
        Pipeline::from_yaml(&text, Some(&Vars::new()))
    else {
        panic!("the pipeline uses no vars");
    };
    let used: BTreeSet<String> = used
        .iter()
        .map(|path| path.split('.').next().unwrap().to_string())
        .collect();
    let vars = example_vars();
    let set: BTreeSet<String> = vars.names().map(str::to_string).collect();
    assert_eq!(used, set);
}

#[test]
fn every_pipeline_var_is_documented() {
    let docs = std::fs::read_to_string(repo_root().join("docs/pipelines.md")).unwrap();
    let missing: Vec<String> = example_vars()
        .names()
        .filter(|name| !docs.contains(&format!("`{name}`")))
        .map(str::to_string)
        .collect();
    assert_eq!(missing, Vec::<String>::new());
}

#[test]
fn jobs_promote_each_line_from_sandbox_to_production() {
    let pipeline = upgrade_pipeline();
    let order: Vec<&str> = pipeline
        .jobs_in_order()
        .iter()
        .map(|job| job.name.as_str())
        .collect();
    assert_eq!(
        order,
        vec![
            "sandbox-stemcell",
            "dev-stemcell",
            "production-stemcell",
            "sandbox-product",
            "dev-product",
            "production-product",
        ]
    );

    for line in ["stemcell", "product"] {
        for (env, upstream) in [
            ("sandbox", None),
            ("dev", Some("sandbox")),
            ("production", Some("dev")),
        ] {
            let job = pipeline.job(&format!("{env}-{line}")).unwrap();
            let get = job
                .plan
                .iter()
                .find_map(|step| match &step.kind {
                    StepKind::Get(get) if get.get == line => Some(get),
                    _ => None,
                })
                .unwrap();
            let passed: Vec<String> = upstream
                .map(|u| format!("{u}-{line}"))
                .into_iter()
                .collect();
            assert_eq!(get.passed, passed, "{}", job.name);

            // Production moves only when someone triggers it: the switch.
            let automatic = env != "production";
            assert_eq!(get.trigger, automatic, "{}", job.name);
            let every = automatic.then_some(GetVersion::Every);
            assert_eq!(get.version, every, "{}", job.name);

            let failed = job.hooks.on_failure.as_deref().unwrap();
            let StepKind::Put(put) = &failed.kind else {
                panic!("{}: on_failure is not a put", job.name);
            };
            assert_eq!(put.resource_name(), line);
            assert_eq!(put.params["status"], Value::String("failed".into()));
            assert_eq!(put.params["environment"], Value::String(env.into()));
        }
    }
}

#[test]
fn tasks_get_the_image_vars_and_the_environment_params() {
    let pipeline = upgrade_pipeline();
    let vars = example_vars();
    let mut tasks = 0;
    for job in &pipeline.jobs {
        let env = job.name.split('-').next().unwrap();
        let line = job.name.split_once('-').unwrap().1;
        job.walk(&mut |step| {
            let StepKind::Task(task) = &step.kind else {
                return;
            };
            tasks += 1;
            assert_eq!(
                task.vars["patchline_image"],
                *vars.get("patchline_image").unwrap()
            );
            assert_eq!(
                task.vars["patchline_tag"],
                *vars.get("patchline_tag").unwrap()
            );
            assert_eq!(task.input_mapping["patch"], line);
            assert_eq!(task.params["ENVIRONMENT"], Value::String(env.into()));
            match task.task.as_str() {
                "apply" => {
                    assert_eq!(task.file.as_deref(), Some("patchline/ci/tasks/apply.yml"));
                    let target = &vars.get(&format!("{env}_target")).unwrap()[line];
                    assert_eq!(&task.params["TARGET"], target);
                }
                "smoke-test" => {
                    assert_eq!(
                        task.file.as_deref(),
                        Some("patchline/ci/tasks/smoke-test.yml")
                    );
                    let checks = &vars.get(&format!("{env}_checks")).unwrap()[line];
                    assert_eq!(&task.params["CHECKS"], checks);
                }
                other => panic!("unexpected task {other}"),
            }
        });
    }
    assert_eq!(tasks, 12);
}

#[test]
fn production_targets_carry_the_review_window() {
    let pipeline = upgrade_pipeline();
    let window = &pipeline.resource("review-window").unwrap().source;
    for line in ["stemcell", "product"] {
        let job = pipeline.job(&format!("production-{line}")).unwrap();
        let target = job
            .plan
            .iter()
            .find_map(|step| match &step.kind {
                StepKind::Task(task) if task.task == "apply" => Some(task.params["TARGET"].clone()),
                _ => None,
            })
            .unwrap();
        let change_window = &target["change_window"];
        for key in ["days", "start", "stop", "location"] {
            assert_eq!(&change_window[key], &window[key], "{line} {key}");
        }
        assert_eq!(
            param_env_value(change_window),
            r#"{"days":["Friday"],"start":"09:30","stop":"11:30","location":"Europe/Amsterdam"}"#
        );
        let first = &job.plan[0].kind;
        assert!(
            matches!(first, StepKind::Get(get) if get.get == "review-window" && !get.trigger),
            "{first:?}"
        );
    }
}

/// Task files written to the shape the contract gives `ci/tasks/`.
const CONTRACT_TASKS: [(&str, &str); 2] = [
    (
        "apply.yml",
        "platform: linux
image_resource:
  type: registry-image
  source: {repository: ((patchline_image)), tag: ((patchline_tag))}
inputs:
- name: patch
- name: config
  optional: true
outputs:
- name: applied
params: {ENVIRONMENT: , TARGET: , TARGET_FILE: , REPAVE: , ROLLBACK: , LOCK_TIMEOUT: }
run: {path: apply}
",
    ),
    (
        "smoke-test.yml",
        "platform: linux
image_resource:
  type: registry-image
  source: {repository: ((patchline_image)), tag: ((patchline_tag))}
inputs:
- {name: patch, optional: true}
- {name: config, optional: true}
outputs:
- name: smoke-report
params: {CHECKS: , CHECKS_FILE: , ENVIRONMENT: }
run: {path: smoke-test}
",
    ),
];

#[test]
fn the_pipeline_fits_task_files_shaped_by_the_contract() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("ci/tasks")).unwrap();
    for (name, text) in CONTRACT_TASKS {
        std::fs::write(repo.path().join("ci/tasks").join(name), text).unwrap();
    }
    let options = LintOptions::new()
        .with_vars(example_vars())
        .with_artifact("patchline", repo.path());
    let text = std::fs::read_to_string(repo_root().join("pipelines/upgrade.yml")).unwrap();
    let problems: Vec<String> = lint(&text, &options)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(problems, Vec::<String>::new());

    // Without its input mapping the apply task would have no patch.
    let unmapped = text.replacen("    input_mapping:\n      patch: stemcell\n", "", 1);
    let problems: Vec<String> = lint(&unmapped, &options)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        problems,
        vec!["job sandbox-stemcell, task: apply: input `patch` is not provided by an earlier step"]
    );
}
