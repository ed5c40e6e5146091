"""Events for correlation rules: one group that should fire, one just short, one too spread out."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from sigma.correlations import (
    SigmaCorrelationConditionOperator as Op,
    SigmaCorrelationRule,
    SigmaCorrelationType as T,
)
from sigma.rule import SigmaRule

from gen_events import materialise, sat, _set_path

TIME_FIELD = "CreationTime"
BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)
MAX_COUNT = 120


def _positive_event(rule: SigmaRule):
    tree = rule.detection.parsed_condition[0].parsed
    alts = sat(tree)
    return materialise(alts[0]) if alts else {}


def _counts(op, n):
    """(count that satisfies the condition, count that just fails it)."""
    n = int(n) if float(n).is_integer() else n
    return {
        Op.GTE: (n, n - 1),
        Op.GT: (n + 1, n),
        Op.LTE: (max(n, 1), n + 1),
        Op.LT: (max(n - 1, 1), n),
        Op.EQ: (n, n + 1),
        Op.NEQ: (n + 1, n),
    }[op]


def _totals(op, n):
    return {
        Op.GTE: (n, n - 2),
        Op.GT: (n + 2, n),
        Op.LTE: (n, n + 2),
        Op.LT: (n - 2, n),
        Op.EQ: (n, n + 2),
        Op.NEQ: (n + 2, n),
    }[op]


def _field_for(corr: SigmaCorrelationRule, ref, field):
    alias = corr.aliases.aliases.get(field) if corr.aliases else None
    if alias is not None:
        for r, f in alias.mapping.items():
            if r.reference == ref.reference:
                return f
    return field


def events_for(coll, rel):
    """(events, times, notes) for every correlation rule of a collection, one after the other."""
    events, times, notes = [], [], []
    corrs = [r for r in coll.rules if isinstance(r, SigmaCorrelationRule)]
    for k, corr in enumerate(corrs):
        e, t, n = _events_for_one(corr, BASE + timedelta(days=30 * k))
        label = f"correlation {corr.id or corr.name}: " if len(corrs) > 1 else ""
        events += e
        times += t
        notes += [label + x for x in n]
    return events, times, notes


def _events_for_one(corr, base_time):
    refs = [r for r in corr.rules if isinstance(getattr(r, "rule", None), SigmaRule)]
    if not refs:
        return [], [], []
    bases = [(ref, _positive_event(ref.rule)) for ref in refs]
    span = corr.timespan.seconds
    group_by = corr.group_by or []
    cond = corr.condition
    op = getattr(cond, "op", Op.GTE)
    n = getattr(cond, "count", 1)
    fieldref = getattr(cond, "fieldref", None)
    if isinstance(fieldref, list):
        fieldref = fieldref[0] if fieldref else None

    events, times, notes = [], [], []

    def emit(base_idx, group, offset, note, value=None, extra=None):
        ref, base = bases[base_idx % len(bases)]
        ev = copy.deepcopy(base)
        for g in group_by:
            _set_path(ev, _field_for(corr, ref, g), group)
        if fieldref is not None and value is not None:
            _set_path(ev, fieldref, value)
        if extra:
            for k, v in extra.items():
                _set_path(ev, k, v)
        t = base_time + timedelta(seconds=offset)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        ev[TIME_FIELD] = stamp
        events.append(ev)
        times.append(stamp)
        notes.append(note)

    day = 86400 * 3 + span * 4

    def step(count):
        return max(1, min(10, span // (2 * max(count, 1))))

    kind = corr.type
    if kind in (T.EVENT_COUNT, T.VALUE_COUNT):
        pos, neg = _counts(op, n)
        pos, neg = min(pos, MAX_COUNT), min(max(neg, 0), MAX_COUNT)
        distinct = kind == T.VALUE_COUNT
        for label, start, count, gap in (
            ("group-a: satisfies the condition within the timespan", 0, pos, step(pos)),
            ("group-b: one short of the condition", day, neg, step(neg)),
            ("group-c: satisfies the count but spread beyond the timespan", 2 * day, pos, span + 60),
        ):
            g = label.split(":")[0]
            for i in range(count):
                emit(i, g, start + i * gap, label, value=f"value-{i}" if distinct else None)
                if distinct and label.startswith("group-b"):
                    # repeats of an already counted value do not raise a distinct count
                    emit(i, g, start + i * gap + 1, label + " (repeated value)", value=f"value-{i}")
    elif kind in (T.TEMPORAL, T.TEMPORAL_ORDERED):
        k = len(bases)
        for i in range(k):
            emit(i, "group-a", i * step(k), "group-a: every rule, in order, within the timespan")
        for i in range(k - 1):
            emit(i, "group-b", day + i * step(k), "group-b: last rule missing")
        for i in reversed(range(k)):
            emit(i, "group-c", 2 * day + (k - 1 - i) * step(k), "group-c: every rule, reverse order")
        for i in range(k):
            emit(i, "group-d", 3 * day + i * (span + 60), "group-d: every rule, spread beyond the timespan")
    elif kind in (T.VALUE_SUM, T.VALUE_AVG):
        pos, neg = _totals(op, n)
        split = 2 if kind == T.VALUE_SUM else 1
        for label, start, total in (
            ("group-a: value satisfies the condition", 0, pos),
            ("group-b: value just fails the condition", day, neg),
        ):
            g = label.split(":")[0]
            for i in range(2):
                v = total / split
                v = int(v) if float(v).is_integer() else v
                emit(0, g, start + i * step(2), label, value=v)
        emit(0, "group-c", 2 * day, "group-c: value satisfies, second event beyond the timespan", value=pos)
        emit(0, "group-c", 2 * day + span + 60, "group-c: value satisfies, second event beyond the timespan", value=pos)
    else:
        for i in range(5):
            emit(0, "group-a", i * step(5), f"group-a: value {i}", value=i * 10)
    return events, times, notes
