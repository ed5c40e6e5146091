"""Derive positive and near-miss events from a Sigma rule's own detection.

The condition tree comes from pySigma (modifiers already applied). For the tree we compute
assignments that satisfy it (`sat`) or falsify it (`unsat`), materialise each assignment as a
JSON record, then mutate one field at a time to get near misses. Whether an event matches is
never decided here: the reference implementation decides, this module only proposes events.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import re
import sre_constants
import sre_parse

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

KEYWORD_FIELD = "Message"
CAP = 12
NOMATCH = "stormwatch-nomatch"


def _children(node):
    return list(getattr(node, "args", []))


# An assignment is a dict: field -> list of (polarity, SigmaType); field None = keyword.


def _merge(a, b):
    out = {k: list(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, []).extend(v)
    return out


def _product(lists):
    out = [{}]
    for alts in lists:
        if not alts:
            return []
        out = [_merge(x, y) for x in out for y in alts][:CAP]
    return out


def sat(node):
    if isinstance(node, ConditionAND):
        return _product([sat(c) for c in _children(node)])
    if isinstance(node, ConditionOR):
        out = []
        for c in _children(node):
            out.extend(sat(c))
        return out[:CAP]
    if isinstance(node, ConditionNOT):
        return unsat(_children(node)[0])
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if isinstance(node.value, SigmaExpansion):
            return [{node.field: [("pos", v)]} for v in node.value.values[:3]]
        return [{node.field: [("pos", node.value)]}]
    if isinstance(node, ConditionValueExpression):
        if isinstance(node.value, SigmaExpansion):
            return [{None: [("pos", v)]} for v in node.value.values[:3]]
        return [{None: [("pos", node.value)]}]
    return [{}]


def unsat(node):
    if isinstance(node, ConditionAND):
        out = []
        for c in _children(node):
            out.extend(unsat(c))
        return out[:CAP]
    if isinstance(node, ConditionOR):
        return _product([unsat(c) for c in _children(node)])
    if isinstance(node, ConditionNOT):
        return sat(_children(node)[0])
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return [{node.field: [("neg", node.value)]}]
    if isinstance(node, ConditionValueExpression):
        return [{}]
    return [{}]


# ---- value synthesis -------------------------------------------------------------------------


def _regex_example(pattern: str) -> str:
    """A string matching a (simple) regular expression, built from its parse tree."""
    flags = ""
    m = re.match(r"^\(\?([a-z]+)\)", pattern)
    if m:
        flags = m.group(1)
        pattern = pattern[m.end():]

    def walk(items):
        out = []
        for op, av in items:
            if op == sre_constants.LITERAL:
                out.append(chr(av))
            elif op == sre_constants.NOT_LITERAL:
                out.append("a" if av != ord("a") else "b")
            elif op == sre_constants.ANY:
                out.append("a")
            elif op == sre_constants.IN:
                ch = "a"
                for iop, iav in av:
                    if iop == sre_constants.LITERAL:
                        ch = chr(iav)
                        break
                    if iop == sre_constants.RANGE:
                        ch = chr(iav[0])
                        break
                    if iop == sre_constants.CATEGORY:
                        ch = {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " "}.get(str(iav), "a")
                        break
                out.append(ch)
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                lo, _hi, sub = av
                out.append(walk(sub) * max(lo, 1))
            elif op == sre_constants.SUBPATTERN:
                out.append(walk(av[-1]))
            elif op == sre_constants.BRANCH:
                out.append(walk(av[1][0]))
            elif op == sre_constants.CATEGORY:
                out.append("0" if "DIGIT" in str(av) else "a")
        return "".join(out)

    try:
        return walk(sre_parse.parse(pattern))
    except Exception:  # noqa: BLE001 - any regex we cannot read gets a placeholder
        return "a"


def _string_parts(s: SigmaString):
    """(prefix anchored?, suffix anchored?, literal text with wildcards realised)."""
    parts = s.s
    text = []
    for p in parts:
        if p == SpecialChars.WILDCARD_MULTI:
            text.append("")
        elif p == SpecialChars.WILDCARD_SINGLE:
            text.append("x")
        elif isinstance(p, str):
            text.append(p)
        else:
            text.append("p")  # placeholder
    starts = bool(parts) and parts[0] != SpecialChars.WILDCARD_MULTI
    ends = bool(parts) and parts[-1] != SpecialChars.WILDCARD_MULTI
    return starts, ends, "".join(text)


def positive_value(values):
    """One JSON value satisfying every positive requirement on a field (best effort)."""
    strings = []
    for v in values:
        if isinstance(v, SigmaNull):
            return None
        if isinstance(v, SigmaBool):
            return bool(v.boolean)
        if isinstance(v, SigmaNumber):
            return v.number
        if isinstance(v, SigmaCompareExpression):
            n = v.number.number
            return {
                CompareOperators.GT: n + 1,
                CompareOperators.GTE: n,
                CompareOperators.LT: n - 1,
                CompareOperators.LTE: n,
                CompareOperators.NEQ: n + 1,
            }[v.op]
        if isinstance(v, SigmaCIDRExpression):
            net = v.network
            return str(net.network_address + (1 if net.num_addresses > 1 else 0))
        if isinstance(v, SigmaRegularExpression):
            return _regex_example(str(v.regexp.original if hasattr(v.regexp, "original") else v.regexp))
        if isinstance(v, SigmaExists):
            return "present" if v.exists else ABSENT
        if isinstance(v, SigmaString):
            strings.append(_string_parts(v))
    if not strings:
        return "present"
    exact = [t for a, b, t in strings if a and b]
    if exact:
        return exact[0]
    prefix = [t for a, b, t in strings if a and not b]
    suffix = [t for a, b, t in strings if b and not a]
    middle = [t for a, b, t in strings if not a and not b]
    return "".join(prefix[:1] + middle + suffix[:1])


def negative_value(values):
    for v in values:
        if isinstance(v, (SigmaNull,)):
            return "present"
        if isinstance(v, SigmaExists):
            return None if v.exists else "present"
        if isinstance(v, SigmaNumber):
            return v.number + 12345
        if isinstance(v, SigmaCompareExpression):
            n = v.number.number
            return {
                CompareOperators.GT: n,
                CompareOperators.GTE: n - 1,
                CompareOperators.LT: n,
                CompareOperators.LTE: n + 1,
                CompareOperators.NEQ: n,
            }[v.op]
        if isinstance(v, SigmaBool):
            return not bool(v.boolean)
        if isinstance(v, SigmaCIDRExpression):
            return "192.0.2.250" if v.network.version == 4 else "2001:db8::ffff"
        if isinstance(v, SigmaString) and not _string_parts(v)[2]:
            return None  # a pattern matching any text: only an absent field fails it
    return NOMATCH


ABSENT = object()


def _set_path(ev, field, value):
    """Dotted field names become nested objects (the shape real records have)."""
    keys = field.split(".")
    cur = ev
    for k in keys[:-1]:
        nxt = cur.get(k)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[k] = nxt
        cur = nxt
    if value is ABSENT:
        cur.pop(keys[-1], None)
    else:
        cur[keys[-1]] = value


def _get_path(ev, field):
    cur = ev
    for k in field.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return ABSENT
        cur = cur[k]
    return cur


def _leaves(obj, prefix=""):
    out = []
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            out.extend(_leaves(v, f"{prefix}{k}."))
        else:
            out.append((f"{prefix}{k}", v))
    return out


def materialise(assign):
    """A record from an assignment; returns (event, {field: (kind, requirement list)})."""
    ev = {}
    refs = []
    for field, reqs in assign.items():
        pos = [v for p, v in reqs if p == "pos"]
        neg = [v for p, v in reqs if p == "neg"]
        target = KEYWORD_FIELD if field is None else field
        if any(isinstance(v, SigmaFieldReference) for v in neg):
            refs.append((target, None))
            neg = []
        if pos:
            fr = [v for v in pos if isinstance(v, SigmaFieldReference)]
            if fr:
                refs.append((target, fr[0]))
                continue
            val = positive_value(pos)
            if field is None and _get_path(ev, target) not in (ABSENT, None):
                val = f"{_get_path(ev, target)} {val}"
            _set_path(ev, target, val)
        elif neg:
            val = negative_value(neg)
            if val is None:
                _set_path(ev, target, ABSENT)
            elif _get_path(ev, target) is ABSENT:
                _set_path(ev, target, val)
    for target, ref in refs:
        if ref is not None:
            other = _get_path(ev, ref.field)
            if other is ABSENT or other is None:
                other = "shared-value"
                _set_path(ev, ref.field, other)
            _set_path(ev, target, other if not (ref.starts_with or ref.ends_with) else f"{other}")
        else:
            other = _get_path(ev, target)
            _set_path(ev, target, "differs-" + (str(other) if other not in (ABSENT, None) else "x"))
    return ev


def _mutations(ev, assign):
    """Near misses: change one field in a way that should (or, for case, should not) matter."""
    out = []
    for field, reqs in assign.items():
        pos = [v for p, v in reqs if p == "pos"]
        if not pos:
            continue
        target = KEYWORD_FIELD if field is None else field
        cur = _get_path(ev, target)
        if cur is ABSENT:
            if field is not None:
                for why, val in ((f"{target}: present, null", None), (f"{target}: present", "present")):
                    e = copy.deepcopy(ev)
                    _set_path(e, target, val)
                    out.append((why, e))
            continue
        v0 = pos[0]
        variants = []
        if isinstance(cur, str) and isinstance(v0, SigmaString):
            starts, ends, _t = _string_parts(v0)
            if cur:
                variants.append((f"{target}: different value", cur[:-1] + ("y" if cur[-1:] != "y" else "z")))
                swapped = cur.swapcase()
                if swapped != cur:
                    variants.append((f"{target}: case changed", swapped))
            if starts:
                variants.append((f"{target}: text before the value", "x" + cur))
            if ends:
                variants.append((f"{target}: text after the value", cur + "x"))
            if not starts and not ends:
                variants.append((f"{target}: value split", cur[: len(cur) // 2] + " " + cur[len(cur) // 2:]))
        elif isinstance(cur, bool):
            variants.append((f"{target}: negated", not cur))
        elif isinstance(cur, (int, float)):
            variants.append((f"{target}: minus one", cur - 1))
            variants.append((f"{target}: plus one", cur + 1))
            variants.append((f"{target}: as string", str(cur)))
        elif isinstance(cur, str) and isinstance(v0, SigmaCIDRExpression):
            try:
                net = v0.network
                variants.append((f"{target}: just outside the network", str(net.broadcast_address + 1)))
                variants.append((f"{target}: last address", str(net.broadcast_address)))
            except (ValueError, ipaddress.AddressValueError):
                pass
        elif isinstance(cur, str) and isinstance(v0, SigmaRegularExpression):
            if cur:
                variants.append((f"{target}: case changed", cur.swapcase()))
                variants.append((f"{target}: prefixed", "x" + cur))
        variants.append((f"{target}: field absent", ABSENT))
        if field is not None:
            variants.append((f"{target}: null", None))
        for why, val in variants:
            e = copy.deepcopy(ev)
            _set_path(e, target, val)
            out.append((why, e))
    return out


def events_for_condition(tree, label):
    """[(note, event)] for one parsed condition."""
    events = []
    for i, a in enumerate(sat(tree)):
        ev = materialise(a)
        events.append((f"{label}: positive #{i}", ev))
        for why, e in _mutations(ev, a):
            events.append((f"{label}: near miss #{i}: {why}", e))
    # Falsifying assignments laid over the first positive event: each makes one part of the
    # condition false (a filter value present, a selection value missing) in an otherwise
    # matching record.
    alts = sat(tree)
    base = materialise(alts[0]) if alts else {}
    for i, a in enumerate(unsat(tree)[:8]):
        ev = copy.deepcopy(base)
        over = materialise(a)
        for path, val in _leaves(over):
            _set_path(ev, path, val)
        for field in a:
            target = KEYWORD_FIELD if field is None else field
            if _get_path(over, target) is ABSENT:
                _set_path(ev, target, ABSENT)
        events.append((f"{label}: falsifying #{i}", ev))
    return events


def dedupe(events, limit=80):
    seen = set()
    out = []
    import json

    for note, e in events:
        k = json.dumps(e, sort_keys=True, default=str)
        if k in seen:
            continue
        seen.add(k)
        out.append((note, e))
    return out[:limit]


__all__ = ["events_for_condition", "dedupe", "itertools"]
