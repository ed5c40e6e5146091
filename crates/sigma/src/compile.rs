//! Compilation of a rule's detection section (rsigma-parser AST) into a [`Node`] tree.

use std::collections::HashMap;

use rayon::prelude::*;
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Detections, Modifier, Quantifier, SelectorPattern,
    SigmaString, SigmaValue, SpecialChar, StringPart,
};

use crate::encode::{self, BPart, Utf16};
use crate::error::CompileError;
use crate::explain::{ExNode, Explain};
use crate::logsource::{Product, Variant, candidates};
use crate::matcher::{CmpOp, FieldId, FieldTable, Node, Pred, RefMode, TimePart};
use crate::pattern::{Part, StrPat, required_literal};

/// What the compiler needs besides the AST.
pub(crate) struct Cx<'a> {
    pub(crate) table: &'a mut FieldTable,
    pub(crate) product: Product,
    pub(crate) variant: &'a Variant,
    /// Pipeline field renames (applied before the log-source candidates).
    pub(crate) field_map: &'a dyn Fn(&str) -> Vec<String>,
    /// Placeholder values for `expand`.
    pub(crate) placeholders: &'a HashMap<String, Vec<String>>,
    /// Fields compiled so far, with the names the rule gave them (for explanations).
    pub(crate) seen: Vec<(FieldId, String)>,
    /// Regular expressions built ahead, by source (see [`build_regexes`]); one not there is
    /// built when its item compiles.
    pub(crate) regexes: &'a Regexes,
}

/// Regular expressions (`re` modifier) by their source, flags included.
pub(crate) type Regexes = HashMap<String, Result<regex::Regex, regex::Error>>;

/// An `re` value's text as written, and the source built from it (the flags of the `i`, `m`
/// and `s` modifiers prefixed).
fn regex_source(v: &SigmaValue, mods: &[Modifier]) -> (String, String) {
    let s = match v {
        SigmaValue::String(s) => s.original.clone(),
        other => other.to_string(),
    };
    let mut flags = String::new();
    if mods.contains(&Modifier::IgnoreCase) {
        flags.push('i');
    }
    if mods.contains(&Modifier::Multiline) {
        flags.push('m');
    }
    if mods.contains(&Modifier::DotAll) {
        flags.push('s');
    }
    let src = if flags.is_empty() {
        s.clone()
    } else {
        format!("(?{flags}){s}")
    };
    (s, src)
}

fn build_regex(src: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(src).size_limit(1 << 22).build()
}

/// Build every regular expression of these detection sections on every worker at once
/// (building them is a fifth of compiling the SigmaHQ Windows rules).
pub(crate) fn build_regexes<'d>(sections: impl Iterator<Item = &'d Detections>) -> Regexes {
    fn walk(d: &Detection, out: &mut Vec<String>) {
        match d {
            Detection::AllOf(items) => {
                for i in items {
                    if i.field.modifiers.contains(&Modifier::Re) {
                        out.extend(
                            i.values
                                .iter()
                                .map(|v| regex_source(v, &i.field.modifiers).1),
                        );
                    }
                }
            }
            Detection::AnyOf(subs) | Detection::And(subs) => {
                for s in subs {
                    walk(s, out);
                }
            }
            _ => {}
        }
    }
    let mut sources = Vec::new();
    for d in sections {
        for det in d.named.values() {
            walk(det, &mut sources);
        }
    }
    sources.sort_unstable();
    sources.dedup();
    sources
        .into_par_iter()
        .map(|src| {
            let re = build_regex(&src);
            (src, re)
        })
        .collect()
}

impl Cx<'_> {
    fn field(&mut self, name: &str) -> FieldId {
        let id = self.field_id(name);
        if !self.seen.iter().any(|(f, _)| *f == id) {
            self.seen.push((id, name.to_owned()));
        }
        id
    }

    fn field_id(&mut self, name: &str) -> FieldId {
        let renamed = self
            .variant
            .renames
            .iter()
            .find(|(a, _)| *a == name)
            .map_or(name, |(_, b)| *b);
        let mut cands = Vec::new();
        for mapped in (self.field_map)(renamed) {
            cands.extend(candidates(self.product, &mapped));
        }
        // A handful of candidates: the first of each kept, in order.
        let mut unique: Vec<String> = Vec::with_capacity(cands.len());
        for c in cands {
            if !unique.contains(&c) {
                unique.push(c);
            }
        }
        self.table.intern(unique)
    }
}

/// Compile a detection section, with what explains its matches.
pub(crate) fn compile_detections(
    d: &Detections,
    cx: &mut Cx<'_>,
) -> Result<(Node, Explain), CompileError> {
    let mut named: HashMap<&str, Node> = HashMap::new();
    let mut names: Vec<&str> = d.named.keys().map(String::as_str).collect();
    names.sort_unstable();
    for name in &names {
        if let Some(det) = d.named.get(*name) {
            let node = compile_detection(det, cx, name)?;
            named.insert(name, node);
        }
    }
    if d.conditions.is_empty() {
        return Err(CompileError::new(
            Some("detection.condition"),
            "no condition",
        ));
    }
    let mut conds = Vec::with_capacity(d.conditions.len());
    let mut ex_conds = Vec::with_capacity(d.conditions.len());
    for (i, c) in d.conditions.iter().enumerate() {
        let src = d.condition_strings.get(i).map_or("", String::as_str);
        conds.push(compile_condition(c, &named, &names, src)?);
        ex_conds.push(explain_condition(c, &names));
    }
    let node = if conds.len() == 1 {
        conds.pop().unwrap_or(Node::Const(false))
    } else {
        Node::Or(conds)
    };
    let cond = if ex_conds.len() == 1 {
        ex_conds.pop().flatten()
    } else {
        ex_conds
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(ExNode::Or)
    };
    let explain = Explain {
        sels: names
            .iter()
            .filter_map(|n| named.remove(n).map(|node| ((*n).to_owned(), node)))
            .collect(),
        cond,
        fields: std::mem::take(&mut cx.seen),
    };
    Ok((node, explain))
}

/// The condition over selection indexes (into the sorted `names`), for explanations.
fn explain_condition(c: &ConditionExpr, names: &[&str]) -> Option<ExNode> {
    Some(match c {
        ConditionExpr::And(v) => ExNode::And(
            v.iter()
                .map(|x| explain_condition(x, names))
                .collect::<Option<_>>()?,
        ),
        ConditionExpr::Or(v) => ExNode::Or(
            v.iter()
                .map(|x| explain_condition(x, names))
                .collect::<Option<_>>()?,
        ),
        ConditionExpr::Not(x) => ExNode::Not(Box::new(explain_condition(x, names)?)),
        ConditionExpr::Identifier(id) => ExNode::Sel(names.iter().position(|n| n == id)?),
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let matched: Vec<ExNode> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| match pattern {
                    SelectorPattern::Them => !n.starts_with('_'),
                    SelectorPattern::Pattern(p) => rsigma_parser::detection_name_matches(p, n),
                })
                .map(|(i, _)| ExNode::Sel(i))
                .collect();
            match quantifier {
                Quantifier::Any => ExNode::Or(matched),
                Quantifier::All => ExNode::And(matched),
                Quantifier::Count(n) => {
                    ExNode::AtLeast(usize::try_from(*n).unwrap_or(usize::MAX), matched)
                }
            }
        }
    })
}

fn compile_condition(
    c: &ConditionExpr,
    named: &HashMap<&str, Node>,
    names: &[&str],
    src: &str,
) -> Result<Node, CompileError> {
    Ok(match c {
        ConditionExpr::And(v) => Node::And(
            v.iter()
                .map(|x| compile_condition(x, named, names, src))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Or(v) => Node::Or(
            v.iter()
                .map(|x| compile_condition(x, named, names, src))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Not(x) => Node::Not(Box::new(compile_condition(x, named, names, src)?)),
        ConditionExpr::Identifier(id) => named.get(id.as_str()).cloned().ok_or_else(|| {
            CompileError::new(
                Some("detection.condition"),
                format!("condition \"{src}\" references unknown selection \"{id}\""),
            )
        })?,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let matched: Vec<Node> = names
                .iter()
                .filter(|n| match pattern {
                    SelectorPattern::Them => !n.starts_with('_'),
                    SelectorPattern::Pattern(p) => rsigma_parser::detection_name_matches(p, n),
                })
                .filter_map(|n| named.get(n).cloned())
                .collect();
            if matched.is_empty() {
                return Err(CompileError::new(
                    Some("detection.condition"),
                    format!("condition \"{src}\": \"{pattern}\" matches no selection"),
                ));
            }
            match quantifier {
                Quantifier::Any => Node::Or(matched),
                Quantifier::All => Node::And(matched),
                Quantifier::Count(n) => {
                    Node::AtLeast(usize::try_from(*n).unwrap_or(usize::MAX), matched)
                }
            }
        }
    })
}

fn compile_detection(d: &Detection, cx: &mut Cx<'_>, name: &str) -> Result<Node, CompileError> {
    Ok(match d {
        Detection::AllOf(items) => Node::And(
            items
                .iter()
                .map(|i| compile_item(i, cx, name))
                .collect::<Result<_, _>>()?,
        ),
        Detection::AnyOf(subs) => Node::Or(
            subs.iter()
                .map(|s| compile_detection(s, cx, name))
                .collect::<Result<_, _>>()?,
        ),
        Detection::Keywords(values) => {
            let item = DetectionItem {
                field: rsigma_parser::FieldSpec::new(None, Vec::new()),
                values: values.clone(),
            };
            compile_item(&item, cx, name)?
        }
        Detection::And(parts) => Node::And(
            parts
                .iter()
                .map(|s| compile_detection(s, cx, name))
                .collect::<Result<_, _>>()?,
        ),
        Detection::ArrayMatch { .. } | Detection::Conditional { .. } => {
            return Err(CompileError::new(
                Some(&format!("detection.{name}")),
                "array-matching selectors ([any]/[all]) of the Sigma 2.2 draft are not supported",
            ));
        }
    })
}

fn key_of(name: &str, item: &DetectionItem) -> String {
    let mut k = format!("detection.{name}");
    if let Some(f) = &item.field.name {
        k.push('.');
        k.push_str(f);
    }
    for m in &item.field.modifiers {
        k.push('|');
        k.push_str(&format!("{m:?}").to_ascii_lowercase());
    }
    k
}

fn compile_item(item: &DetectionItem, cx: &mut Cx<'_>, name: &str) -> Result<Node, CompileError> {
    // The item's key names it in errors only: built when one is said.
    let err = |r: String| CompileError::new(Some(&key_of(name, item)), r);
    let mods = &item.field.modifiers;
    let has = |m: Modifier| mods.contains(&m);
    let all = has(Modifier::All);
    if all && item.values.len() < 2 && item.field.name.is_some() {
        // The spec discourages it; pySigma accepts it. Evaluate as written.
    }
    let field = item.field.name.as_deref();

    // exists
    if has(Modifier::Exists) {
        let f = field.ok_or_else(|| err("exists needs a field".into()))?;
        let want = match item.values.as_slice() {
            [SigmaValue::Bool(b)] => *b,
            [SigmaValue::String(s)] if s.original.eq_ignore_ascii_case("true") => true,
            [SigmaValue::String(s)] if s.original.eq_ignore_ascii_case("false") => false,
            _ => return Err(err("exists takes one boolean value".into())),
        };
        let id = cx.field(f);
        return Ok(Node::Field {
            field: id,
            preds: vec![Pred::Exists(want)],
            all: false,
        });
    }

    let neq = has(Modifier::Neq);
    let mut preds: Vec<Pred> = Vec::new();

    if has(Modifier::FieldRef) {
        let f = field.ok_or_else(|| err("fieldref needs a field".into()))?;
        let mode = if has(Modifier::Contains) {
            RefMode::Contains
        } else if has(Modifier::StartsWith) {
            RefMode::StartsWith
        } else if has(Modifier::EndsWith) {
            RefMode::EndsWith
        } else {
            RefMode::Eq
        };
        let id = cx.field(f);
        for v in &item.values {
            let other = match v {
                SigmaValue::String(s) => s.original.clone(),
                _ => return Err(err("fieldref takes field names".into())),
            };
            let other = cx.field(&other);
            preds.push(Pred::FieldRef {
                other,
                mode,
                cased: has(Modifier::Cased),
            });
        }
        return Ok(finish(cx, Some(id), preds, all, neq));
    }

    let time_part = mods.iter().find_map(|m| match m {
        Modifier::Minute => Some(TimePart::Minute),
        Modifier::Hour => Some(TimePart::Hour),
        Modifier::Day => Some(TimePart::Day),
        Modifier::Week => Some(TimePart::Week),
        Modifier::Month => Some(TimePart::Month),
        Modifier::Year => Some(TimePart::Year),
        _ => None,
    });
    let cmp = mods.iter().find_map(|m| match m {
        Modifier::Gt => Some(CmpOp::Gt),
        Modifier::Gte => Some(CmpOp::Gte),
        Modifier::Lt => Some(CmpOp::Lt),
        Modifier::Lte => Some(CmpOp::Lte),
        _ => None,
    });

    for v in &item.values {
        if let Some(tp) = time_part {
            let n = num_of(v).ok_or_else(|| err(format!("{v} is not a number")))?;
            preds.push(Pred::Time(tp, cmp.unwrap_or(CmpOp::Eq), n));
            continue;
        }
        if let Some(op) = cmp {
            let n = num_of(v).ok_or_else(|| err(format!("{v} is not a number")))?;
            preds.push(Pred::Cmp(op, n));
            continue;
        }
        if has(Modifier::Cidr) {
            let s = match v {
                SigmaValue::String(s) => s.original.clone(),
                other => other.to_string(),
            };
            let net = parse_cidr(&s).ok_or_else(|| err(format!("invalid CIDR \"{s}\"")))?;
            preds.push(Pred::Cidr(net));
            continue;
        }
        if has(Modifier::Re) {
            let (s, src) = regex_source(v, mods);
            let built = match cx.regexes.get(&src) {
                Some(r) => r.clone(),
                None => build_regex(&src),
            };
            let re = built.map_err(|e| err(format!("invalid regular expression \"{s}\": {e}")))?;
            preds.push(Pred::Str {
                pat: Box::new(StrPat::regex(re)),
                lit: None,
                key: format!("re:{src}"),
                memo: u32::MAX,
            });
            continue;
        }
        match v {
            SigmaValue::Null => preds.push(Pred::Null),
            SigmaValue::Bool(b) if !string_mods(mods) => preds.push(Pred::Bool(*b)),
            SigmaValue::Integer(i) if !string_mods(mods) => preds.push(Pred::Num(*i as f64)),
            SigmaValue::Float(f) if !string_mods(mods) => preds.push(Pred::Num(*f)),
            other => {
                let s = match other {
                    SigmaValue::String(s) => s.clone(),
                    o => SigmaString::from_raw(&o.to_string()),
                };
                for s in
                    expand_placeholders(&s, has(Modifier::Expand), cx.placeholders).map_err(err)?
                {
                    for val in value_aliases(cx.product, field, &s) {
                        string_preds(&val, mods, field.is_none(), &mut preds).map_err(err)?;
                    }
                }
            }
        }
    }
    let id = field.map(|f| cx.field(f));
    Ok(finish(cx, id, preds, all, neq))
}

fn finish(
    cx: &mut Cx<'_>,
    field: Option<FieldId>,
    mut preds: Vec<Pred>,
    all: bool,
    neq: bool,
) -> Node {
    // Keyword values are bound to the pseudo-field holding every value of the record.
    let bind = field.unwrap_or_else(|| cx.table.keyword_field());
    for p in &mut preds {
        if let Pred::Str { key, memo, pat, .. } = p {
            *memo = cx.table.memo(bind, key, pat);
        }
    }
    let preds = if neq {
        preds.into_iter().map(|p| Pred::Neq(Box::new(p))).collect()
    } else {
        preds
    };
    // neq over a list: the field differs from every value.
    let all = all || neq;
    match field {
        Some(field) => Node::Field { field, preds, all },
        None => Node::Keyword { preds, all },
    }
}

fn string_mods(mods: &[Modifier]) -> bool {
    mods.iter().any(|m| {
        matches!(
            m,
            Modifier::Contains
                | Modifier::StartsWith
                | Modifier::EndsWith
                | Modifier::Base64
                | Modifier::Base64Offset
                | Modifier::Wide
                | Modifier::Utf16
                | Modifier::Utf16be
                | Modifier::WindAsh
                | Modifier::Cased
        )
    })
}

fn num_of(v: &SigmaValue) -> Option<f64> {
    match v {
        SigmaValue::Integer(i) => Some(*i as f64),
        SigmaValue::Float(f) => Some(*f),
        SigmaValue::String(s) => s.original.trim().parse().ok(),
        _ => None,
    }
}

fn parse_cidr(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<ipnet::IpNet>() {
        return Some(n.trunc());
    }
    s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from)
}

/// The M365 mapping of `status` values onto UAL `ResultStatus` spellings.
fn value_aliases(product: Product, field: Option<&str>, s: &SigmaString) -> Vec<SigmaString> {
    if product == Product::M365
        && field.is_some_and(|f| f.eq_ignore_ascii_case("status"))
        && let Some(p) = s.as_plain()
    {
        let alts: &[&str] = match p.to_ascii_lowercase().as_str() {
            "success" | "succeeded" => &["success", "succeeded", "true"],
            "failure" | "failed" => &["failure", "failed", "false"],
            _ => &[],
        };
        if !alts.is_empty() {
            return alts.iter().map(|a| SigmaString::from_raw(a)).collect();
        }
    }
    vec![s.clone()]
}

/// `expand`: replace `%name%` placeholders by each of their values.
fn expand_placeholders(
    s: &SigmaString,
    expand: bool,
    placeholders: &HashMap<String, Vec<String>>,
) -> Result<Vec<SigmaString>, String> {
    if !expand {
        return Ok(vec![s.clone()]);
    }
    let orig = &s.original;
    let mut outs: Vec<String> = vec![String::new()];
    let mut rest = orig.as_str();
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        let name = &after[..end];
        let values = placeholders.get(name).ok_or_else(|| {
            format!("placeholder %{name}% has no value (supply it through a pipeline's `vars`)")
        })?;
        let prefix = &rest[..start];
        let mut next = Vec::with_capacity(outs.len() * values.len());
        for o in &outs {
            for v in values {
                next.push(format!("{o}{prefix}{v}"));
            }
        }
        outs = next;
        rest = &after[end + 1..];
    }
    Ok(outs
        .into_iter()
        .map(|o| SigmaString::new(&format!("{o}{rest}")))
        .collect())
}

fn to_bparts(s: &SigmaString) -> Vec<BPart> {
    s.parts
        .iter()
        .map(|p| match p {
            StringPart::Plain(t) => BPart::Lit(t.as_bytes().to_vec()),
            StringPart::Special(SpecialChar::WildcardMulti) => BPart::Star,
            StringPart::Special(SpecialChar::WildcardSingle) => BPart::Quest,
        })
        .collect()
}

fn string_preds(
    s: &SigmaString,
    mods: &[Modifier],
    keyword: bool,
    out: &mut Vec<Pred>,
) -> Result<(), String> {
    let mut variants: Vec<Vec<BPart>> = vec![to_bparts(s)];
    let (mut contains, mut starts, mut ends, mut cased) = (false, false, false, false);
    for m in mods {
        match m {
            Modifier::Contains => contains = true,
            Modifier::StartsWith => starts = true,
            Modifier::EndsWith => ends = true,
            Modifier::Cased => cased = true,
            Modifier::All | Modifier::Expand | Modifier::Neq => {}
            Modifier::Wide => {
                variants = variants
                    .iter()
                    .map(|v| encode::utf16(v, Utf16::Le))
                    .collect()
            }
            Modifier::Utf16be => {
                variants = variants
                    .iter()
                    .map(|v| encode::utf16(v, Utf16::Be))
                    .collect()
            }
            Modifier::Utf16 => {
                variants = variants
                    .iter()
                    .map(|v| encode::utf16(v, Utf16::Bom))
                    .collect()
            }
            Modifier::Base64 => {
                variants = variants
                    .iter()
                    .map(|v| encode::base64(v))
                    .collect::<Result<_, _>>()?;
            }
            Modifier::Base64Offset => {
                let mut next = Vec::new();
                for v in &variants {
                    next.extend(encode::base64offset(v)?);
                }
                variants = next;
            }
            Modifier::WindAsh => {
                let mut next = Vec::new();
                for v in &variants {
                    next.extend(encode::windash(v)?);
                }
                variants = next;
            }
            other => return Err(format!("modifier {other:?} cannot apply to a string value")),
        }
    }
    // Keywords without an explicit anchor match anywhere in a value.
    if keyword && !starts && !ends {
        contains = true;
    }
    for v in variants {
        let mut parts: Vec<Part> = Vec::with_capacity(v.len() + 2);
        if contains || ends {
            parts.push(Part::Star);
        }
        for p in v {
            parts.push(match p {
                BPart::Lit(b) => Part::Lit(String::from_utf8_lossy(&b).into_owned()),
                BPart::Star => Part::Star,
                BPart::Quest => Part::Quest,
            });
        }
        if contains || starts {
            parts.push(Part::Star);
        }
        let parts = crate::pattern::normalise(parts);
        let lit = required_literal(&parts).map(|l| l.to_lowercase());
        let key = crate::pattern::parts_key(cased, &parts);
        let pat = StrPat::from_parts(parts, cased)?;
        out.push(Pred::Str {
            pat: Box::new(pat),
            lit,
            key,
            memo: u32::MAX,
        });
    }
    Ok(())
}
