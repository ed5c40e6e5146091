//! Loading rules through the Sigma engine, and the plain rows the subcommands print.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use stormwatch_sigma::{Engine, EngineOptions, LogSourceInfo, RuleInfo, RuleKind, RuleLoadError};

/// One loaded rule, as `rules list` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) level: String,
    pub(crate) status: String,
    pub(crate) logsource: String,
    pub(crate) kind: String,
    pub(crate) file: String,
}

/// A rule file that did not load, or a lint finding.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    pub(crate) file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u64>,
    pub(crate) severity: Severity,
    pub(crate) message: String,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// An engine with its rules and the files that did not load.
pub(crate) struct Loaded {
    pub(crate) engine: Engine,
    pub(crate) rows: Vec<Row>,
    pub(crate) problems: Vec<Problem>,
}

/// Load rule files and folders.
pub(crate) fn from_paths(paths: &[PathBuf], ignore_logsource: bool) -> anyhow::Result<Loaded> {
    for p in paths {
        if !p.exists() {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
    }
    let opts = EngineOptions {
        ignore_logsource,
        ..EngineOptions::default()
    };
    let (engine, errors) = Engine::from_paths(paths, &opts).context("cannot load rules")?;
    let problems = errors.iter().map(|e| problem_of(e, None)).collect();
    Ok(finish(engine, problems))
}

/// Load the ruleset bundled in the binary.
pub(crate) fn bundled(ignore_logsource: bool) -> anyhow::Result<Loaded> {
    let sources = crate::bundled_rules();
    let texts: BTreeMap<String, String> = sources.iter().cloned().collect();
    let opts = EngineOptions {
        ignore_logsource,
        ..EngineOptions::default()
    };
    let (engine, errors) =
        Engine::from_sources(&sources, &opts).context("cannot load the bundled rules")?;
    let problems = errors.iter().map(|e| problem_of(e, Some(&texts))).collect();
    Ok(finish(engine, problems))
}

fn finish(engine: Engine, problems: Vec<Problem>) -> Loaded {
    let rows = engine.rules().iter().map(row_of).collect();
    Loaded {
        engine,
        rows,
        problems,
    }
}

fn row_of(r: &RuleInfo) -> Row {
    Row {
        id: r.id.clone(),
        title: r.title.clone(),
        level: r.level.as_str().to_owned(),
        status: r.status.clone().unwrap_or_default(),
        logsource: logsource_text(&r.logsource),
        kind: match r.kind {
            RuleKind::Detection => "detection",
            RuleKind::Correlation => "correlation",
            RuleKind::Filter => "filter",
        }
        .to_owned(),
        file: r.file.clone(),
    }
}

/// `product/service/category`, leaving out the parts a rule does not set (correlations and
/// filters without a log source show `-`).
fn logsource_text(ls: &LogSourceInfo) -> String {
    let parts: Vec<&str> = [&ls.product, &ls.service, &ls.category]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join("/")
    }
}

fn problem_of(e: &RuleLoadError, texts: Option<&BTreeMap<String, String>>) -> Problem {
    let mut message = String::new();
    if let Some(rule) = &e.rule {
        message.push_str(&format!("rule \"{rule}\": "));
    }
    if let Some(key) = &e.key {
        message.push_str(&format!("{key}: "));
    }
    message.push_str(&e.reason);
    let line = e.line.and_then(|l| u64::try_from(l).ok()).or_else(|| {
        let text = match texts {
            Some(t) => t.get(&e.file).cloned(),
            None => std::fs::read_to_string(&e.file).ok(),
        };
        text.and_then(|t| guess_line(&t, &e.reason))
    });
    Problem {
        file: e.file.clone(),
        line,
        severity: Severity::Error,
        message,
    }
}

/// The line a message most likely refers to: the first line holding a quoted word of the
/// message (a modifier, key or identifier), else `None`.
pub(crate) fn guess_line(text: &str, message: &str) -> Option<u64> {
    // YAML parser messages carry their own position: "… at line 2 column 3 …".
    if let Some(rest) = message.split("at line ").nth(1) {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<u64>() {
            return Some(n);
        }
    }
    let quoted: Vec<&str> = message
        .split(['\'', '"', '`'])
        .enumerate()
        .filter(|(i, s)| i % 2 == 1 && !s.trim().is_empty())
        .map(|(_, s)| s)
        .collect();
    for q in quoted {
        if let Some(n) = find_line(text, |l| l.contains(q)) {
            return Some(n);
        }
    }
    None
}

/// 1-based number of the first line satisfying `pred`.
pub(crate) fn find_line(text: &str, pred: impl Fn(&str) -> bool) -> Option<u64> {
    text.lines()
        .position(pred)
        .and_then(|i| u64::try_from(i + 1).ok())
}

/// The line of a rule's `id:` in a file, for findings about the rule as a whole.
pub(crate) fn id_line(file: &Path, id: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    find_line(&text, |l| {
        l.trim_start().starts_with("id:") && l.contains(id)
    })
}
