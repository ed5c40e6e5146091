//! Processing pipelines (pySigma's YAML format, the field-mapping subset): `field_name_mapping`,
//! `field_name_prefix_mapping`, `field_name_prefix`, and placeholder values from `vars`, each
//! optionally limited to rules of a log source (`rule_conditions: [{type: logsource, …}]`).

use std::collections::HashMap;

use rsigma_parser::LogSource;
use yaml_serde::Value;

use crate::error::SigmaError;

#[derive(Debug, Clone)]
enum Transform {
    Map(HashMap<String, Vec<String>>),
    PrefixMap(Vec<(String, String)>),
    Prefix(String),
}

#[derive(Debug, Clone)]
struct Step {
    transform: Transform,
    /// Log-source conditions (any of them must hold); empty: every rule.
    when: Vec<LogSource>,
}

/// A processing pipeline: field renames applied to rules before compilation.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    name: String,
    priority: i64,
    steps: Vec<Step>,
    vars: HashMap<String, Vec<String>>,
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(seq) => seq.iter().filter_map(s).collect(),
        other => s(other).into_iter().collect(),
    }
}

impl Pipeline {
    /// Parse a pipeline from YAML text.
    pub fn from_yaml(name: &str, text: &str) -> Result<Pipeline, SigmaError> {
        let err = |reason: String| SigmaError::Pipeline {
            name: name.to_string(),
            reason,
        };
        let root: Value = yaml_serde::from_str(text).map_err(|e| err(e.to_string()))?;
        let m = root
            .as_mapping()
            .ok_or_else(|| err("a pipeline is a YAML mapping".into()))?;
        let get = |k: &str| m.get(Value::String(k.to_string()));
        let mut p = Pipeline {
            name: get("name").and_then(s).unwrap_or_else(|| name.to_string()),
            priority: get("priority").and_then(Value::as_i64).unwrap_or(0),
            ..Pipeline::default()
        };
        if let Some(Value::Mapping(vars)) = get("vars") {
            for (k, v) in vars {
                if let Some(k) = s(k) {
                    p.vars.insert(k, strings(v));
                }
            }
        }
        let Some(Value::Sequence(ts)) = get("transformations") else {
            return Ok(p);
        };
        for (i, t) in ts.iter().enumerate() {
            let tm = t
                .as_mapping()
                .ok_or_else(|| err(format!("transformation {i} is not a mapping")))?;
            let tget = |k: &str| tm.get(Value::String(k.to_string()));
            let ty = tget("type").and_then(s).unwrap_or_default();
            let transform = match ty.as_str() {
                "field_name_mapping" => {
                    let mut map = HashMap::new();
                    if let Some(Value::Mapping(mm)) = tget("mapping") {
                        for (k, v) in mm {
                            if let Some(k) = s(k) {
                                map.insert(k, strings(v));
                            }
                        }
                    }
                    Transform::Map(map)
                }
                "field_name_prefix_mapping" => {
                    let mut v = Vec::new();
                    if let Some(Value::Mapping(mm)) = tget("mapping") {
                        for (k, x) in mm {
                            if let (Some(k), Some(x)) = (s(k), s(x)) {
                                v.push((k, x));
                            }
                        }
                    }
                    Transform::PrefixMap(v)
                }
                "field_name_prefix" => {
                    Transform::Prefix(tget("prefix").and_then(s).unwrap_or_default())
                }
                "value_placeholders" | "wildcard_placeholders" => continue,
                other => {
                    return Err(err(format!(
                        "transformation {i}: type \"{other}\" is not supported (supported: field_name_mapping, field_name_prefix_mapping, field_name_prefix, value_placeholders with vars)"
                    )));
                }
            };
            let mut when = Vec::new();
            if let Some(Value::Sequence(conds)) = tget("rule_conditions") {
                for c in conds {
                    let Some(cm) = c.as_mapping() else { continue };
                    let cg = |k: &str| cm.get(Value::String(k.to_string())).and_then(s);
                    if cg("type").as_deref() == Some("logsource") {
                        when.push(LogSource {
                            category: cg("category"),
                            product: cg("product"),
                            service: cg("service"),
                            ..LogSource::default()
                        });
                    }
                }
            }
            p.steps.push(Step { transform, when });
        }
        Ok(p)
    }

    /// The pipeline's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn priority(&self) -> i64 {
        self.priority
    }

    pub(crate) fn vars(&self) -> &HashMap<String, Vec<String>> {
        &self.vars
    }

    /// Apply the field renames to one field name of a rule with this log source.
    pub(crate) fn map_field(&self, ls: &LogSource, field: &str) -> Vec<String> {
        let mut cur = vec![field.to_string()];
        for step in &self.steps {
            if !step.when.is_empty() && !step.when.iter().any(|w| logsource_matches(w, ls)) {
                continue;
            }
            cur = cur
                .into_iter()
                .flat_map(|f| match &step.transform {
                    Transform::Map(m) => m.get(&f).cloned().unwrap_or_else(|| vec![f]),
                    Transform::PrefixMap(v) => vec![
                        v.iter()
                            .find_map(|(from, to)| {
                                f.strip_prefix(from.as_str()).map(|r| format!("{to}{r}"))
                            })
                            .unwrap_or(f),
                    ],
                    Transform::Prefix(p) => vec![format!("{p}{f}")],
                })
                .collect();
        }
        cur
    }
}

/// Whether `rule`'s log source satisfies the condition `want` (every field `want` sets).
pub(crate) fn logsource_matches(want: &LogSource, rule: &LogSource) -> bool {
    let f = |w: &Option<String>, r: &Option<String>| match w {
        None => true,
        Some(w) => r.as_ref().is_some_and(|r| r.eq_ignore_ascii_case(w)),
    };
    f(&want.category, &rule.category)
        && f(&want.product, &rule.product)
        && f(&want.service, &rule.service)
}
