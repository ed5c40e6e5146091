//! Loading: files and in-memory sources → parsed documents → compiled engine, with one
//! [`RuleLoadError`] per rule that cannot load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rsigma_parser::{
    CorrelationCondition, CorrelationRule, FilterRule, FilterRuleTarget, SigmaRule,
};
use stormwatch_core::Level;

use crate::compile::{Cx, build_regexes, compile_detections};
use crate::correlate::{CompiledCorrelation, Ref};
use crate::engine::{
    CompiledRule, Engine, EngineOptions, Inner, LogSourceInfo, RuleInfo, RuleKind, WinFields,
    rule_literals,
};
use crate::error::{CompileError, RuleLoadError, SigmaError};
use crate::logsource::{self, Product};
use crate::matcher::{FieldTable, Node};
use crate::pipeline::logsource_matches;

/// Most YAML bytes accepted per rule file.
const MAX_FILE: u64 = 4 << 20;

pub(crate) fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
    let io = |source| SigmaError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect_files(&e, out)?;
            } else if matches!(e.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
                out.push(e);
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Rule sources read from disk and the files that could not be read.
pub(crate) type Sources = (Vec<(String, String)>, Vec<RuleLoadError>);

pub(crate) fn read_sources(paths: &[PathBuf]) -> Result<Sources, SigmaError> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    let mut sources = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let too_big = std::fs::metadata(&f)
            .map(|m| m.len() > MAX_FILE)
            .unwrap_or(false);
        if too_big {
            errors.push(err(
                &name,
                None,
                None,
                None,
                format!("file larger than {MAX_FILE} bytes"),
            ));
            continue;
        }
        match std::fs::read_to_string(&f) {
            Ok(t) => sources.push((name, t)),
            Err(e) => errors.push(err(&name, None, None, None, format!("cannot read: {e}"))),
        }
    }
    Ok((sources, errors))
}

fn err(
    file: &str,
    rule: Option<&str>,
    key: Option<String>,
    line: Option<usize>,
    reason: String,
) -> RuleLoadError {
    RuleLoadError {
        file: file.to_string(),
        rule: rule.map(str::to_string),
        key,
        line,
        reason,
    }
}

/// Line (1-based) of the first line that starts (after indentation) with `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(needle))
        .map(|i| i + 1)
}

/// Checks rsigma-parser does not make: syntax Sigma 2 removed.
fn precheck(name: &str, text: &str) -> Option<RuleLoadError> {
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("action:") {
            let a = rest.trim();
            if matches!(a, "global" | "reset" | "repeat") {
                return Some(err(
                    name,
                    None,
                    Some("action".into()),
                    Some(i + 1),
                    format!(
                        "multi-document rule collections (`action: {a}`) were removed in Sigma 2.0; split the file into one rule per file"
                    ),
                ));
            }
        }
        if t.starts_with("condition:") && t.contains('|') && !t.contains("'|") && !t.contains("\"|")
        {
            return Some(err(name, None, Some("detection.condition".into()), Some(i + 1),
                "the aggregation syntax `condition: … | count() …` was removed in Sigma 2.0; write a correlation rule instead".into()));
        }
    }
    None
}

struct Parsed {
    file: String,
    text: Arc<str>,
    doc: Doc,
}

enum Doc {
    Rule(Box<SigmaRule>),
    Corr(CorrelationRule),
    Filter(FilterRule),
}

fn stem(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file)
        .to_string()
}

fn level(l: Option<rsigma_parser::Level>) -> Level {
    match l {
        Some(rsigma_parser::Level::Low) => Level::Low,
        Some(rsigma_parser::Level::Medium) => Level::Medium,
        Some(rsigma_parser::Level::High) => Level::High,
        Some(rsigma_parser::Level::Critical) => Level::Critical,
        _ => Level::Informational,
    }
}

fn status(s: Option<rsigma_parser::Status>) -> Option<String> {
    s.map(|s| format!("{s:?}").to_ascii_lowercase())
}

/// One rule file's documents, and the errors that stop them from loading.
fn parse_file(name: &str, text: &str) -> (Vec<Parsed>, Vec<RuleLoadError>) {
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    if let Some(e) = precheck(name, text) {
        errors.push(e);
        return (parsed, errors);
    }
    let text: Arc<str> = Arc::from(text);
    let coll = match std::panic::catch_unwind(|| rsigma_parser::parse_sigma_yaml(&text)) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            errors.push(err(name, None, None, None, e.to_string()));
            return (parsed, errors);
        }
        Err(_) => {
            errors.push(err(
                name,
                None,
                None,
                None,
                "the parser failed on this file".into(),
            ));
            return (parsed, errors);
        }
    };
    for e in &coll.errors {
        // Warnings about unknown enum values are not fatal.
        if e.starts_with("unknown ") || e.contains("invalid value for") {
            continue;
        }
        let key = if e.contains("modifier") {
            Some("detection".to_string())
        } else {
            None
        };
        let line = if e.contains("condition") {
            line_of(&text, "condition:")
        } else {
            None
        };
        errors.push(err(name, None, key, line, e.clone()));
    }
    let file = name.to_string();
    for r in coll.rules {
        parsed.push(Parsed {
            file: file.clone(),
            text: text.clone(),
            doc: Doc::Rule(Box::new(r)),
        });
    }
    for c in coll.correlations {
        parsed.push(Parsed {
            file: file.clone(),
            text: text.clone(),
            doc: Doc::Corr(c),
        });
    }
    for f in coll.filters {
        parsed.push(Parsed {
            file: file.clone(),
            text: text.clone(),
            doc: Doc::Filter(f),
        });
    }
    (parsed, errors)
}

pub(crate) fn build(
    sources: &[(String, String)],
    opts: &EngineOptions,
    mut errors: Vec<RuleLoadError>,
) -> (Engine, Vec<RuleLoadError>) {
    // Files are parsed on every worker at once (the YAML parse is a third of loading); the
    // documents and errors are taken in file order.
    let mut parsed: Vec<Parsed> = Vec::new();
    let per_file: Vec<(Vec<Parsed>, Vec<RuleLoadError>)> = sources
        .par_iter()
        .map(|(name, text)| parse_file(name, text))
        .collect();
    for (p, e) in per_file {
        parsed.extend(p);
        errors.extend(e);
    }

    // Placeholders: options, then pipelines' vars.
    let mut placeholders = opts.placeholders.clone();
    let mut pipelines = opts.pipelines.clone();
    pipelines.sort_by_key(crate::pipeline::Pipeline::priority);
    for p in &pipelines {
        for (k, v) in p.vars() {
            placeholders.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }

    let mut fields = FieldTable::default();
    let win = WinFields {
        channel: fields.intern(vec![
            "Event.System.Channel".into(),
            "System.Channel".into(),
            "Channel".into(),
        ]),
        event_id: fields.intern(vec![
            "Event.System.EventID.#text".into(),
            "Event.System.EventID".into(),
            "System.EventID".into(),
            "EventID".into(),
        ]),
        extra: [(
            "EventType",
            fields.intern(logsource::candidates(Product::Windows, "EventType")),
        )]
        .into_iter()
        .collect(),
    };

    let mut infos: Vec<RuleInfo> = Vec::new();
    let mut rules: Vec<CompiledRule> = Vec::new();
    let filters: Vec<(&Parsed, &FilterRule)> = parsed
        .iter()
        .filter_map(|p| match &p.doc {
            Doc::Filter(f) => Some((p, f)),
            _ => None,
        })
        .collect();

    let regexes = build_regexes(parsed.iter().filter_map(|p| match &p.doc {
        Doc::Rule(r) => Some(&r.detection),
        Doc::Filter(f) => Some(&f.detection),
        Doc::Corr(_) => None,
    }));

    // Detection rules.
    let mut by_name: HashMap<String, Ref> = HashMap::new();
    for p in &parsed {
        let Doc::Rule(r) = &p.doc else { continue };
        let id = r.id.clone().unwrap_or_else(|| stem(&p.file));
        let product = logsource::product(&r.logsource);
        let variants_ls = logsource::variants(&r.logsource);
        let ls = r.logsource.clone();
        let map = |f: &str| -> Vec<String> {
            let mut cur = vec![f.to_string()];
            for pl in &pipelines {
                cur = cur
                    .into_iter()
                    .flat_map(|x| pl.map_field(&ls, &x))
                    .collect();
            }
            cur
        };
        let mut variants = Vec::new();
        let mut explains = Vec::new();
        let mut failure: Option<CompileError> = None;
        for v in &variants_ls {
            let mut cx = Cx {
                table: &mut fields,
                product,
                variant: v,
                field_map: &map,
                placeholders: &placeholders,
                seen: Vec::new(),
                regexes: &regexes,
            };
            match compile_detections(&r.detection, &mut cx) {
                Ok((mut node, explain)) => {
                    let mut explain = vec![explain];
                    // Filters that target this rule.
                    for (fp, f) in &filters {
                        let targeted = match &f.rules {
                            FilterRuleTarget::Any => true,
                            FilterRuleTarget::Specific(ids) => ids.iter().any(|t| {
                                Some(t) == r.id.as_ref() || Some(t) == r.name.as_ref() || *t == id
                            }),
                        };
                        let ls_ok = f
                            .logsource
                            .as_ref()
                            .is_none_or(|fl| logsource_matches(fl, &r.logsource));
                        if !(targeted && ls_ok) {
                            continue;
                        }
                        let mut fcx = Cx {
                            table: &mut fields,
                            product,
                            variant: v,
                            field_map: &map,
                            placeholders: &placeholders,
                            seen: Vec::new(),
                            regexes: &regexes,
                        };
                        match compile_detections(&f.detection, &mut fcx) {
                            Ok((fnode, fexplain)) => {
                                node = Node::And(vec![node, fnode]);
                                explain.push(fexplain);
                            }
                            Err(e) => {
                                errors.push(err(&fp.file, Some(&f.title), e.key, None, e.reason))
                            }
                        }
                    }
                    variants.push((v.constraint.clone(), node));
                    explains.push(explain);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            let line = e.key.as_deref().and_then(|k| {
                let sel = k.strip_prefix("detection.").unwrap_or(k);
                let sel = sel.split('.').next().unwrap_or(sel);
                if sel == "condition" {
                    line_of(&p.text, "condition:")
                } else {
                    line_of(&p.text, &format!("{sel}:"))
                }
            });
            errors.push(err(&p.file, Some(&r.title), e.key, line, e.reason));
            continue;
        }
        let info_idx = infos.len();
        infos.push(RuleInfo {
            id: id.clone(),
            name: r.name.clone(),
            title: r.title.clone(),
            level: level(r.level),
            status: status(r.status),
            logsource: LogSourceInfo {
                product: r.logsource.product.clone(),
                category: r.logsource.category.clone(),
                service: r.logsource.service.clone(),
            },
            file: p.file.clone(),
            kind: RuleKind::Detection,
            tags: r.tags.clone(),
        });
        let literals = rule_literals(&variants);
        let ri = rules.len();
        rules.push(CompiledRule {
            info: info_idx,
            variants,
            explain: explains,
            kinds: logsource::kinds(&r.logsource),
            literals,
            gate: None,
            hidden: false,
        });
        by_name.insert(id.clone(), Ref::Rule(ri));
        if let Some(n) = &r.name {
            by_name.insert(n.clone(), Ref::Rule(ri));
        }
    }

    // Filters and correlations are listed too.
    for (fp, f) in &filters {
        infos.push(RuleInfo {
            id: f.id.clone().unwrap_or_else(|| stem(&fp.file)),
            name: f.name.clone(),
            title: f.title.clone(),
            level: Level::Informational,
            status: status(f.status),
            logsource: f
                .logsource
                .as_ref()
                .map(|l| LogSourceInfo {
                    product: l.product.clone(),
                    category: l.category.clone(),
                    service: l.service.clone(),
                })
                .unwrap_or_default(),
            file: fp.file.clone(),
            kind: RuleKind::Filter,
            tags: f.tags.clone(),
        });
    }

    let corr_docs: Vec<(&Parsed, &CorrelationRule)> = parsed
        .iter()
        .filter_map(|p| match &p.doc {
            Doc::Corr(c) => Some((p, c)),
            _ => None,
        })
        .collect();
    for (ci, (_, c)) in corr_docs.iter().enumerate() {
        if let Some(id) = &c.id {
            by_name.entry(id.clone()).or_insert(Ref::Corr(ci));
        }
        if let Some(n) = &c.name {
            by_name.entry(n.clone()).or_insert(Ref::Corr(ci));
        }
    }
    let mut correlations = Vec::new();
    let mut generate_true: Vec<bool> = vec![false; rules.len()];
    let mut referenced: Vec<bool> = vec![false; rules.len()];
    let mut corr_index_map: Vec<Option<usize>> = vec![None; corr_docs.len()];
    let mut pending: Vec<(usize, CompiledCorrelation)> = Vec::new();
    for (ci, (p, c)) in corr_docs.iter().enumerate() {
        let mut refs = Vec::new();
        let mut names = Vec::new();
        let mut missing = None;
        for r in &c.rules {
            match by_name.get(r) {
                Some(x) => {
                    refs.push(*x);
                    let mut n = vec![r.clone()];
                    if let Ref::Rule(ri) = x
                        && let Some(info) = rules.get(*ri).and_then(|cr| infos.get(cr.info))
                    {
                        n.push(info.id.clone());
                        if let Some(nm) = &info.name {
                            n.push(nm.clone());
                        }
                    }
                    names.push(n);
                }
                None => missing = Some(r.clone()),
            }
        }
        if let Some(m) = missing {
            errors.push(err(
                &p.file,
                Some(&c.title),
                Some("correlation.rules".into()),
                line_of(&p.text, "rules:"),
                format!("referenced rule \"{m}\" is not loaded"),
            ));
            continue;
        }
        for r in &refs {
            if let Ref::Rule(ri) = r {
                referenced[*ri] = true;
                if c.generate {
                    generate_true[*ri] = true;
                }
            }
        }
        let mut aliases: HashMap<String, HashMap<usize, String>> = HashMap::new();
        for a in &c.aliases {
            let mut m = HashMap::new();
            for (rule_name, field) in &a.mapping {
                if let Some(i) = names.iter().position(|ns| ns.contains(rule_name)) {
                    m.insert(i, field.clone());
                }
            }
            aliases.insert(a.alias.clone(), m);
        }
        let (preds, field, percentile, extended) = match &c.condition {
            CorrelationCondition::Threshold {
                predicates,
                field,
                percentile,
            } => (
                predicates.clone(),
                field.as_ref().and_then(|f| f.first().cloned()),
                *percentile,
                None,
            ),
            CorrelationCondition::Extended(e) => (Vec::new(), None, None, Some(e.clone())),
        };
        let info_idx = infos.len();
        infos.push(RuleInfo {
            id: c
                .id
                .clone()
                .unwrap_or_else(|| c.name.clone().unwrap_or_else(|| stem(&p.file))),
            name: c.name.clone(),
            title: c.title.clone(),
            level: level(c.level),
            status: status(c.status),
            logsource: LogSourceInfo::default(),
            file: p.file.clone(),
            kind: RuleKind::Correlation,
            tags: c.tags.clone(),
        });
        pending.push((
            ci,
            CompiledCorrelation {
                info: info_idx,
                kind: c.correlation_type,
                refs,
                ref_names: names,
                group_by: c.group_by.clone(),
                aliases,
                span_ns: i64::try_from(c.timespan.seconds)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1_000_000_000),
                preds,
                field,
                percentile,
                extended,
            },
        ));
    }
    for (ci, cc) in pending {
        corr_index_map[ci] = Some(correlations.len());
        correlations.push(cc);
    }
    // Re-point chained references to the compiled indexes (dropping broken chains).
    for cc in &mut correlations {
        cc.refs = cc
            .refs
            .iter()
            .map(|r| match r {
                Ref::Corr(k) => Ref::Corr(
                    corr_index_map
                        .get(*k)
                        .copied()
                        .flatten()
                        .unwrap_or(usize::MAX),
                ),
                x => *x,
            })
            .collect();
    }
    for (ri, r) in rules.iter_mut().enumerate() {
        r.hidden = referenced[ri] && !generate_true[ri];
    }

    let mut inner = Inner {
        infos,
        rules,
        fields,
        groups: HashMap::new(),
        win,
        correlations,
        channel_ids: HashMap::new(),
        ignore_logsource: opts.ignore_logsource,
        raw_prefilter: opts.raw_prefilter,
    };
    inner.build_groups();
    (
        Engine {
            inner: Arc::new(inner),
        },
        errors,
    )
}
