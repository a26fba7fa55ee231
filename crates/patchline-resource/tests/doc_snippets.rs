//! The operator docs stay true to the code: every pipeline snippet of
//! `docs/feeds.md` is read as Concourse hands it to the resource and must
//! be accepted, under the feed its section is about; and every field of
//! `source` and every `get` param has a row in `docs/feeds.md` or
//! `docs/resource.md`, so a field added without documentation fails here.

use std::collections::BTreeSet;
use std::path::PathBuf;

use patchline_resource::log::Log;
use patchline_resource::protocol::InParams;
use patchline_resource::source::{Purpose, Source};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

/// Every field of `source`, in the order `Source` declares them.
const SOURCE_FIELDS: [&str; 24] = [
    "feed",
    "uri",
    "stemcell",
    "release",
    "flavor",
    "endpoint",
    "owner",
    "repository",
    "access_token",
    "api_url",
    "tag_filter",
    "checksums",
    "api_token",
    "product_slug",
    "release_type",
    "version",
    "files",
    "include_prereleases",
    "ca_cert",
    "skip_ssl_validation",
    "attempts",
    "read_timeout",
    "ledger",
    "debug",
];

/// Every param of a `get` step, in the order `InParams` declares them.
const GET_PARAMS: [&str; 4] = [
    "files",
    "skip_download",
    "allow_weak_checksums",
    "allow_unverified",
];

/// The feeds, as `source.feed` names them.
const FEEDS: [&str; 5] = ["metalink", "index", "bosh-io", "github", "pivnet"];

/// What a `((var))` becomes: Concourse fills vars from its credential
/// manager before the resource sees them. A snippet therefore may not put a
/// var where the value's shape is checked (a PEM in `ca_cert`).
const VAR_VALUE: &str = "filled-in-by-concourse";

/// Return the text of `docs/<name>`.
fn doc(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// One ```yaml block of a document.
struct Snippet {
    /// The line of the block's opening fence, for messages.
    line: usize,
    /// The feed of the `## `feed: <name>`` section holding the block.
    feed: Option<String>,
    /// The block's text.
    yaml: String,
}

/// Return the ```yaml blocks of `markdown`, each with its section's feed.
fn yaml_blocks(markdown: &str) -> Vec<Snippet> {
    let mut blocks = Vec::new();
    let mut feed: Option<String> = None;
    let mut open: Option<Snippet> = None;
    for (index, line) in markdown.lines().enumerate() {
        if let Some(block) = open.as_mut() {
            if line.trim_end() == "```" {
                blocks.extend(open.take());
            } else {
                block.yaml.push_str(line);
                block.yaml.push('\n');
            }
        } else if line.trim_end() == "```yaml" {
            open = Some(Snippet {
                line: index + 1,
                feed: feed.clone(),
                yaml: String::new(),
            });
        } else if let Some(heading) = line.strip_prefix("## ") {
            feed = heading
                .strip_prefix("`feed: ")
                .and_then(|rest| rest.strip_suffix('`'))
                .map(str::to_string);
        }
    }
    assert!(open.is_none(), "a ```yaml block is never closed");
    blocks
}

/// Replace every `((var))` in the strings of `value` with [`VAR_VALUE`].
fn fill_vars(value: &mut Json) {
    match value {
        Json::String(text) => {
            while let Some(start) = text.find("((") {
                let Some(length) = text[start..].find("))") else {
                    break;
                };
                text.replace_range(start..start + length + 2, VAR_VALUE);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(fill_vars),
        Json::Object(fields) => fields.values_mut().for_each(fill_vars),
        _ => {}
    }
}

/// Read a snippet as Concourse sends it: YAML turned into JSON, vars filled.
fn pipeline(snippet: &Snippet) -> Json {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&snippet.yaml)
        .unwrap_or_else(|err| panic!("feeds.md line {}: not YAML: {err}", snippet.line));
    let mut json = serde_json::to_value(yaml)
        .unwrap_or_else(|err| panic!("feeds.md line {}: not JSON: {err}", snippet.line));
    fill_vars(&mut json);
    json
}

/// Read `value` as `T`, as the resource reads its request.
fn read<T: DeserializeOwned>(value: &Json, what: &str) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|err| panic!("{what}: {err}"))
}

/// Return the fields serde names when refusing an unknown one, which is
/// every field the type takes.
fn fields_refused_with<T: DeserializeOwned + std::fmt::Debug>(request: Json) -> Vec<String> {
    let message = serde_json::from_value::<T>(request)
        .expect_err("an unknown field is refused")
        .to_string();
    let (_, expected) = message
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("no field list in {message:?}"));
    expected
        .split(", ")
        .map(|field| field.trim_matches('`').to_string())
        .collect()
}

/// Say whether `markdown` has a table row for `field`: `| `field` | ...`.
fn has_row(markdown: &str, field: &str) -> bool {
    let row = format!("| `{field}` |");
    markdown
        .lines()
        .any(|line| line.trim_start().starts_with(&row))
}

#[test]
fn every_feeds_md_snippet_is_a_source_check_accepts() {
    let snippets = yaml_blocks(&doc("feeds.md"));
    let mut feeds_shown = BTreeSet::new();
    for snippet in &snippets {
        let at = format!("feeds.md line {}", snippet.line);
        let pipeline = pipeline(snippet);
        let resources = pipeline["resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no resources"));
        assert_eq!(
            pipeline["resource_types"][0]["name"], "patchline",
            "{at}: the snippet declares the patchline resource type"
        );

        let mut names = BTreeSet::new();
        for resource in resources {
            let name = resource["name"].as_str().unwrap_or("?").to_string();
            let at = format!("{at}: resource {name}");
            assert_eq!(resource["type"], "patchline", "{at}");
            let source: Source = read(&resource["source"], &at);
            let feed = source
                .feed_config()
                .unwrap_or_else(|err| panic!("{at}: {err}"));
            source
                .file_filter()
                .unwrap_or_else(|err| panic!("{at}: {err}"));
            source
                .transport(&feed, Log::new(false), Purpose::Check)
                .unwrap_or_else(|err| panic!("{at}: {err}"));
            assert_eq!(
                Some(feed.kind().to_string()),
                snippet.feed,
                "{at}: the snippet's feed is its section's"
            );
            feeds_shown.insert(feed.kind().to_string());
            names.insert(name);
        }

        let jobs = pipeline["jobs"].as_array().cloned().unwrap_or_default();
        for step in jobs
            .iter()
            .flat_map(|job| job["plan"].as_array().cloned().unwrap_or_default())
        {
            let Some(resource) = step["get"].as_str() else {
                continue;
            };
            let at = format!("{at}: get {resource}");
            assert!(names.contains(resource), "{at}: no such resource");
            if !step["params"].is_null() {
                let _: InParams = read(&step["params"], &at);
            }
        }
    }
    assert_eq!(
        feeds_shown,
        FEEDS.iter().map(|feed| feed.to_string()).collect(),
        "every feed has a snippet in feeds.md"
    );
}

#[test]
fn every_source_field_and_get_param_has_a_documented_row() {
    assert_eq!(
        fields_refused_with::<Source>(serde_json::json!({"feed": "metalink", "not_a_field": 1})),
        SOURCE_FIELDS,
        "SOURCE_FIELDS lists the fields of Source"
    );
    assert_eq!(
        fields_refused_with::<InParams>(serde_json::json!({"not_a_param": 1})),
        GET_PARAMS,
        "GET_PARAMS lists the fields of InParams"
    );

    let feeds = doc("feeds.md");
    let resource = doc("resource.md");
    let undocumented: Vec<&str> = SOURCE_FIELDS
        .iter()
        .filter(|field| !has_row(&feeds, field) && !has_row(&resource, field))
        .copied()
        .collect();
    assert_eq!(
        undocumented,
        Vec::<&str>::new(),
        "source fields without a row in docs/feeds.md or docs/resource.md"
    );
    let undocumented: Vec<&str> = GET_PARAMS
        .iter()
        .filter(|param| !has_row(&resource, param))
        .copied()
        .collect();
    assert_eq!(
        undocumented,
        Vec::<&str>::new(),
        "get params without a row in docs/resource.md"
    );
}

#[test]
fn snippets_are_read_with_their_sections_feed() {
    let markdown =
        "## `feed: github`\n\n```yaml\na: ((token))\n```\n\n## Errors\n\n```yaml\nb: 1\n```\n";
    let blocks = yaml_blocks(markdown);
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        (blocks[0].line, blocks[0].feed.as_deref()),
        (3, Some("github"))
    );
    assert_eq!((blocks[1].line, blocks[1].feed.as_deref()), (9, None));
    assert_eq!(
        pipeline(&blocks[0]),
        serde_json::json!({"a": "filled-in-by-concourse"})
    );
}
