//! Why a rule matched a record: which selections held, on which fields and values.
//!
//! Built at compile time beside the matcher (the named selections and the condition over
//! them, with the rule's own field names) and evaluated only for records a rule matched,
//! with the same per-record state the match left behind: nothing of it runs on records that
//! match no rule.

use crate::doc::Leaf;
use crate::matcher::{CmpOp, Ctx, FieldId, Node, Pred, leaf_match};

/// Longest value quoted, in characters.
const MAX_VALUE: usize = 64;
/// Fields quoted for a selection that did not hold (`not filter (…)`).
const MAX_NOT_FIELDS: usize = 2;

/// The condition over named selections.
#[derive(Debug, Clone)]
pub(crate) enum ExNode {
    And(Vec<ExNode>),
    Or(Vec<ExNode>),
    Not(Box<ExNode>),
    AtLeast(usize, Vec<ExNode>),
    /// Index into [`Explain::sels`].
    Sel(usize),
}

/// What explains one detection section (a rule's or a filter's).
#[derive(Debug, Clone, Default)]
pub(crate) struct Explain {
    /// Named selections: name and compiled node.
    pub(crate) sels: Vec<(String, Node)>,
    /// The condition; `None` when the section could not be described.
    pub(crate) cond: Option<ExNode>,
    /// The names the rule gave its fields.
    pub(crate) fields: Vec<(FieldId, String)>,
}

impl Explain {
    fn field_name(&self, id: FieldId) -> &str {
        self.fields
            .iter()
            .find(|(f, _)| *f == id)
            .map_or("field", |(_, n)| n.as_str())
    }

    fn holds(&self, n: &ExNode, ctx: &mut Ctx<'_>) -> bool {
        match n {
            ExNode::And(v) => v.iter().all(|c| self.holds(c, ctx)),
            ExNode::Or(v) => v.iter().any(|c| self.holds(c, ctx)),
            ExNode::Not(c) => !self.holds(c, ctx),
            ExNode::AtLeast(k, v) => v.iter().filter(|c| self.holds(c, ctx)).count() >= *k,
            ExNode::Sel(i) => self.sels.get(*i).is_some_and(|(_, node)| ctx.eval(node)),
        }
    }

    /// The parts of the explanation of a record this section matched, in condition order.
    pub(crate) fn describe(&self, ctx: &mut Ctx<'_>, out: &mut Vec<String>) {
        if let Some(c) = &self.cond {
            self.walk(c, ctx, out);
        }
    }

    fn walk(&self, n: &ExNode, ctx: &mut Ctx<'_>, out: &mut Vec<String>) {
        match n {
            ExNode::And(v) => {
                for c in v {
                    self.walk(c, ctx, out);
                }
            }
            ExNode::Or(v) | ExNode::AtLeast(_, v) => {
                for c in v {
                    if self.holds(c, ctx) {
                        self.walk(c, ctx, out);
                    }
                }
            }
            ExNode::Not(inner) => self.not(inner, ctx, out),
            ExNode::Sel(i) => {
                if let Some((name, node)) = self.sels.get(*i) {
                    let mut parts = Vec::new();
                    self.matched(node, ctx, &mut parts);
                    parts.dedup();
                    if parts.is_empty() {
                        out.push(name.clone());
                    } else {
                        out.push(format!("{name}: {}", parts.join(", ")));
                    }
                }
            }
        }
    }

    /// A negated part: the selections that did not hold, with the record's values of the
    /// fields they look at.
    fn not(&self, n: &ExNode, ctx: &mut Ctx<'_>, out: &mut Vec<String>) {
        let mut sels = Vec::new();
        collect_sels(n, &mut sels);
        for i in sels {
            let Some((name, node)) = self.sels.get(i) else {
                continue;
            };
            let mut fields = Vec::new();
            node_fields(node, &mut fields);
            fields.dedup();
            let values: Vec<String> = fields
                .iter()
                .take(MAX_NOT_FIELDS)
                .map(|f| {
                    let v = first_value(ctx, *f).unwrap_or_else(|| "absent".to_owned());
                    format!("{} = {v}", self.field_name(*f))
                })
                .collect();
            if values.is_empty() {
                out.push(format!("not {name}"));
            } else {
                out.push(format!("not {name} ({})", values.join(", ")));
            }
        }
    }

    /// The field = value parts of a selection node that holds.
    fn matched(&self, node: &Node, ctx: &mut Ctx<'_>, out: &mut Vec<String>) {
        match node {
            Node::And(v) => {
                for c in v {
                    self.matched(c, ctx, out);
                }
            }
            Node::Or(v) | Node::AtLeast(_, v) => {
                if let Some(c) = v.iter().find(|c| ctx.eval(c)) {
                    self.matched(c, ctx, out);
                }
            }
            Node::Not(_) | Node::Const(_) => {}
            Node::Field { field, preds, .. } => {
                let name = self.field_name(*field);
                let (a, b, present) = ctx.resolve(*field);
                let leaves = ctx.leaves(a, b);
                let hit = preds
                    .iter()
                    .find_map(|p| leaves.iter().find(|l| leaf_match(p, l)).map(|l| (p, l)));
                match hit {
                    Some((p, l)) => out.push(describe_pred(name, p, l)),
                    None => {
                        // Presence tests, nulls and comparisons of the field with itself.
                        let p = preds.first();
                        out.push(match p {
                            Some(Pred::Exists(true)) => format!("{name} present"),
                            Some(Pred::Exists(false)) => format!("{name} absent"),
                            Some(Pred::Null) => format!("{name} empty"),
                            _ if present => match leaves.first().and_then(leaf_text) {
                                Some(v) => format!("{name} = {v}"),
                                None => format!("{name} present"),
                            },
                            _ => format!("{name} absent"),
                        });
                    }
                }
            }
            Node::Keyword { preds, .. } => {
                let Some(kf) = ctx.keyword_field() else {
                    return;
                };
                let (a, b, _) = ctx.resolve(kf);
                let leaves = ctx.leaves(a, b);
                if let Some(l) = preds
                    .iter()
                    .find_map(|p| leaves.iter().find(|l| leaf_match(p, l)))
                    .and_then(leaf_text)
                {
                    out.push(format!("keyword in \"{l}\""));
                }
            }
        }
    }
}

fn collect_sels(n: &ExNode, out: &mut Vec<usize>) {
    match n {
        ExNode::And(v) | ExNode::Or(v) | ExNode::AtLeast(_, v) => {
            for c in v {
                collect_sels(c, out);
            }
        }
        ExNode::Not(c) => collect_sels(c, out),
        ExNode::Sel(i) => out.push(*i),
    }
}

fn node_fields(n: &Node, out: &mut Vec<FieldId>) {
    match n {
        Node::And(v) | Node::Or(v) | Node::AtLeast(_, v) => {
            for c in v {
                node_fields(c, out);
            }
        }
        Node::Not(c) => node_fields(c, out),
        Node::Field { field, .. } => {
            if !out.contains(field) {
                out.push(*field);
            }
        }
        Node::Const(_) | Node::Keyword { .. } => {}
    }
}

fn first_value(ctx: &mut Ctx<'_>, f: FieldId) -> Option<String> {
    let (a, b, _) = ctx.resolve(f);
    ctx.leaves(a, b).iter().find_map(leaf_text)
}

/// A value as quoted: cut at [`MAX_VALUE`] characters.
fn leaf_text(l: &Leaf<'_>) -> Option<String> {
    match l {
        Leaf::Text { text, .. } => {
            let t = text.as_ref();
            Some(if t.chars().count() > MAX_VALUE {
                let mut s: String = t.chars().take(MAX_VALUE - 1).collect();
                s.push('…');
                s
            } else {
                t.to_owned()
            })
        }
        Leaf::Null => Some("null".to_owned()),
        Leaf::Other => None,
    }
}

fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Gt => ">",
        CmpOp::Gte => ">=",
        CmpOp::Lt => "<",
        CmpOp::Lte => "<=",
        CmpOp::Eq => "=",
    }
}

fn describe_pred(name: &str, p: &Pred, l: &Leaf<'_>) -> String {
    let v = leaf_text(l).unwrap_or_default();
    match p {
        Pred::Cidr(net) => format!("{name} = {v} (in {net})"),
        Pred::Cmp(op, n) => format!("{name} = {v} ({} {n})", op_text(*op)),
        Pred::Neq(_) => format!("{name} = {v} (not the value excluded)"),
        _ => format!("{name} = {v}"),
    }
}
