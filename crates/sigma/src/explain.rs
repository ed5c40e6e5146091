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

    /// Append the explanation of a record this section matched to `out`: its parts in
    /// condition order, separated by `; `.
    pub(crate) fn describe(&self, ctx: &mut Ctx<'_>, out: &mut String) {
        if let Some(c) = &self.cond {
            self.walk(c, ctx, out);
        }
    }

    fn walk(&self, n: &ExNode, ctx: &mut Ctx<'_>, out: &mut String) {
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
                    part(out);
                    out.push_str(name);
                    let mut first = true;
                    self.matched(node, ctx, out, &mut first);
                }
            }
        }
    }

    /// A negated part: the selections that did not hold, with the record's values of the
    /// fields they look at.
    fn not(&self, n: &ExNode, ctx: &mut Ctx<'_>, out: &mut String) {
        let mut sels = Vec::new();
        collect_sels(n, &mut sels);
        for i in sels {
            let Some((name, node)) = self.sels.get(i) else {
                continue;
            };
            let mut fields = Vec::new();
            node_fields(node, &mut fields);
            part(out);
            out.push_str("not ");
            out.push_str(name);
            for (k, f) in fields.iter().take(MAX_NOT_FIELDS).enumerate() {
                out.push_str(if k == 0 { " (" } else { ", " });
                out.push_str(self.field_name(*f));
                out.push_str(" = ");
                let (a, b, _) = ctx.resolve(*f);
                match ctx.leaves(a, b).iter().find(|l| !matches!(l, Leaf::Other)) {
                    Some(l) => push_leaf(out, l),
                    None => out.push_str("absent"),
                }
            }
            if !fields.is_empty() {
                out.push(')');
            }
        }
    }

    /// The field = value parts of a selection node that holds: `: a = x, b = y`.
    fn matched(&self, node: &Node, ctx: &mut Ctx<'_>, out: &mut String, first: &mut bool) {
        match node {
            Node::And(v) => {
                for c in v {
                    self.matched(c, ctx, out, first);
                }
            }
            Node::Or(v) | Node::AtLeast(_, v) => {
                if let Some(c) = v.iter().find(|c| ctx.eval(c)) {
                    self.matched(c, ctx, out, first);
                }
            }
            Node::Not(_) | Node::Const(_) => {}
            Node::Field { field, preds, .. } => {
                out.push_str(if std::mem::take(first) { ": " } else { ", " });
                out.push_str(self.field_name(*field));
                let (a, b, present) = ctx.resolve(*field);
                let leaves = ctx.leaves(a, b);
                let hit = preds
                    .iter()
                    .find_map(|p| leaves.iter().find(|l| leaf_match(p, l)).map(|l| (p, l)));
                match hit {
                    Some((p, l)) => {
                        out.push_str(" = ");
                        push_leaf(out, l);
                        pred_note(out, p);
                    }
                    // Presence tests and nulls.
                    None => out.push_str(match preds.first() {
                        Some(Pred::Exists(false)) => " absent",
                        Some(Pred::Null) => " empty",
                        _ if present => " present",
                        _ => " absent",
                    }),
                }
            }
            Node::Keyword { preds, .. } => {
                let Some(kf) = ctx.keyword_field() else {
                    return;
                };
                let (a, b) = {
                    let (a, b, _) = ctx.resolve(kf);
                    (a, b)
                };
                let leaves = ctx.leaves(a, b);
                if let Some(l) = preds
                    .iter()
                    .find_map(|p| leaves.iter().find(|l| leaf_match(p, l)))
                {
                    out.push_str(if std::mem::take(first) { ": " } else { ", " });
                    out.push_str("keyword in \"");
                    push_leaf(out, l);
                    out.push('"');
                }
            }
        }
    }
}

/// Start a new part of an explanation.
fn part(out: &mut String) {
    if !out.is_empty() {
        out.push_str("; ");
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

/// Append a value as quoted: cut at [`MAX_VALUE`] characters.
fn push_leaf(out: &mut String, l: &Leaf<'_>) {
    match l {
        Leaf::Text { text, .. } => {
            let t = text.as_ref();
            match t.char_indices().nth(MAX_VALUE) {
                None => out.push_str(t),
                Some(_) => {
                    let cut = t
                        .char_indices()
                        .nth(MAX_VALUE - 1)
                        .map_or(t.len(), |(i, _)| i);
                    out.push_str(t.get(..cut).unwrap_or(t));
                    out.push('…');
                }
            }
        }
        Leaf::Null => out.push_str("null"),
        Leaf::Other => out.push_str("[…]"),
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

/// What a value matched, when the value alone does not say it.
fn pred_note(out: &mut String, p: &Pred) {
    use std::fmt::Write as _;
    let _ = match p {
        Pred::Cidr(net) => write!(out, " (in {net})"),
        Pred::Cmp(op, n) => write!(out, " ({} {n})", op_text(*op)),
        Pred::Neq(_) => write!(out, " (not the value excluded)"),
        _ => Ok(()),
    };
}
