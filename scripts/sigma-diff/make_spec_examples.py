"""Write spec-examples/: one small rule per modifier, value form and condition form of the
Sigma specification (v2.1 appendix and rules/correlation chapters). Run once; the files are
committed. Ids are uuid5 of the file name so that regeneration keeps them."""

import uuid
from pathlib import Path

OUT = Path(__file__).resolve().parent / "spec-examples"
NS = uuid.UUID("6f1d1c52-4c0e-4d4e-9a55-8f7f3d1b2a10")

DETECTIONS = {
    "modifier_contains": "    selection:\n        CommandLine|contains: 'mimikatz'\n    condition: selection",
    "modifier_startswith": "    selection:\n        Image|startswith: 'C:\\Windows\\'\n    condition: selection",
    "modifier_endswith": "    selection:\n        Image|endswith: '\\cmd.exe'\n    condition: selection",
    "modifier_contains_all": "    selection:\n        CommandLine|contains|all:\n            - 'net'\n            - 'user'\n            - '/add'\n    condition: selection",
    "modifier_re": "    selection:\n        CommandLine|re: 'ab+c[0-9]{2}$'\n    condition: selection",
    "modifier_re_i": "    selection:\n        CommandLine|re|i: '^powershell.*-enc'\n    condition: selection",
    "modifier_re_m": "    selection:\n        Message|re|m: '^second line$'\n    condition: selection",
    "modifier_re_s": "    selection:\n        Message|re|s: 'first.line'\n    condition: selection",
    "modifier_cidr_v4": "    selection:\n        SourceIp|cidr: '192.168.0.0/16'\n    condition: selection",
    "modifier_cidr_v6": "    selection:\n        SourceIp|cidr: '2001:db8::/32'\n    condition: selection",
    "modifier_base64": "    selection:\n        Payload|base64: 'secret'\n    condition: selection",
    "modifier_base64offset_contains": "    selection:\n        CommandLine|base64offset|contains: '/bin/bash'\n    condition: selection",
    "modifier_utf16le_base64": "    selection:\n        CommandLine|utf16le|base64offset|contains: 'ping'\n    condition: selection",
    "modifier_utf16be_base64": "    selection:\n        CommandLine|utf16be|base64offset|contains: 'ping'\n    condition: selection",
    "modifier_utf16_base64": "    selection:\n        CommandLine|utf16|base64offset|contains: 'ping'\n    condition: selection",
    "modifier_wide_base64offset": "    selection:\n        CommandLine|wide|base64offset|contains: 'ping'\n    condition: selection",
    "modifier_windash": "    selection:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: selection",
    "modifier_fieldref": "    selection:\n        SubjectUserName|fieldref: TargetUserName\n    condition: selection",
    "modifier_fieldref_contains": "    selection:\n        CommandLine|fieldref|contains: Image\n    condition: selection",
    "modifier_exists_true": "    selection:\n        Operation: Login\n        Token|exists: true\n    condition: selection",
    "modifier_exists_false": "    selection:\n        Operation: Login\n        Token|exists: false\n    condition: selection",
    "modifier_cased": "    selection:\n        Operation|cased: 'MailItemsAccessed'\n    condition: selection",
    "modifier_cased_contains": "    selection:\n        CommandLine|cased|contains: 'IEX'\n    condition: selection",
    "modifier_gt": "    selection:\n        OperationCount|gt: 100\n    condition: selection",
    "modifier_gte": "    selection:\n        OperationCount|gte: 100\n    condition: selection",
    "modifier_lt": "    selection:\n        OperationCount|lt: 10\n    condition: selection",
    "modifier_lte": "    selection:\n        OperationCount|lte: 10\n    condition: selection",
    "value_wildcard_multi": "    selection:\n        Image: 'C:\\*\\cmd.exe'\n    condition: selection",
    "value_wildcard_single": "    selection:\n        User: 'adm_?'\n    condition: selection",
    "value_escaped_wildcards": "    selection:\n        Pattern: 'literal\\*star\\?mark'\n    condition: selection",
    "value_escaped_backslash": "    selection:\n        Path: 'C:\\\\Temp\\\\*'\n    condition: selection",
    "value_null": "    selection:\n        Operation: Login\n        Reason: null\n    condition: selection",
    "value_empty": "    selection:\n        Operation: Login\n        Reason: ''\n    condition: selection",
    "value_number": "    selection:\n        EventID: 4624\n    condition: selection",
    "value_bool": "    selection:\n        Operation: Login\n        IsInteractive: true\n    condition: selection",
    "value_list_or": "    selection:\n        Operation:\n            - New-InboxRule\n            - Set-InboxRule\n    condition: selection",
    "value_list_of_maps": "    selection:\n        - Operation: New-InboxRule\n          Workload: Exchange\n        - Operation: Set-Mailbox\n    condition: selection",
    "keywords_list": "    keywords:\n        - 'mimikatz'\n        - 'sekurlsa'\n    condition: keywords",
    "keywords_and_field": "    selection:\n        Operation: Run\n    keywords:\n        - 'invoke-expression'\n    condition: selection and keywords",
    "condition_not": "    selection:\n        Operation: Login\n    filter:\n        UserType: 4\n    condition: selection and not filter",
    "condition_one_of_pattern": "    selection_a:\n        Operation: A\n    selection_b:\n        Operation: B\n    other:\n        Workload: C\n    condition: 1 of selection_*",
    "condition_all_of_pattern": "    selection_op:\n        Operation: A\n    selection_wl:\n        Workload: B\n    other:\n        User: C\n    condition: all of selection_*",
    "condition_one_of_them": "    sel1:\n        Operation: A\n    sel2:\n        Workload: B\n    condition: 1 of them",
    "condition_all_of_them": "    sel1:\n        Operation: A\n    sel2:\n        Workload: B\n    condition: all of them",
    "condition_precedence": "    a:\n        Operation: A\n    b:\n        Workload: B\n    c:\n        User: C\n    condition: a or b and c",
    "condition_parentheses": "    a:\n        Operation: A\n    b:\n        Workload: B\n    c:\n        User: C\n    condition: (a or b) and not c",
    "condition_not_one_of": "    selection:\n        Operation: A\n    filter_1:\n        User: X\n    filter_2:\n        Workload: Y\n    condition: selection and not 1 of filter_*",
    "condition_not_null_field": "    selection:\n        Operation: A\n    filter:\n        User: null\n    condition: selection and not filter",
    "nested_field": "    selection:\n        properties.message: 'Delete device'\n        status.errorCode: 0\n    condition: selection",
}

HEAD = """title: Spec example {name}
id: {id}
status: test
description: Sigma specification example ({name}) for the pySigma differential.
author: stormwatch
date: 2026-11-23
logsource:
    product: spec
    service: examples
detection:
{det}
level: low
"""

CORRELATIONS = {
    "correlation_event_count": ("""    selection:
        Operation: UserLoginFailed
    condition: selection""", """correlation:
    type: event_count
    rules:
        - {base}
    group-by:
        - UserId
    timespan: 10m
    condition:
        gte: 5"""),
    "correlation_event_count_range": ("""    selection:
        Operation: UserLoginFailed
    condition: selection""", """correlation:
    type: event_count
    rules:
        - {base}
    group-by:
        - UserId
    timespan: 10m
    condition:
        gt: 3
        lte: 6"""),
    "correlation_value_count": ("""    selection:
        Operation: UserLoginFailed
    condition: selection""", """correlation:
    type: value_count
    rules:
        - {base}
    group-by:
        - ClientIP
    timespan: 1h
    condition:
        field: UserId
        gte: 4"""),
    "correlation_value_sum": ("""    selection:
        Operation: FileDownloaded
    condition: selection""", """correlation:
    type: value_sum
    rules:
        - {base}
    group-by:
        - UserId
    timespan: 1h
    condition:
        field: FileSize
        gt: 1000000"""),
    "correlation_value_avg": ("""    selection:
        Operation: FileDownloaded
    condition: selection""", """correlation:
    type: value_avg
    rules:
        - {base}
    group-by:
        - UserId
    timespan: 1h
    condition:
        field: FileSize
        gt: 500"""),
    "correlation_event_count_eq": ("""    selection:
        Operation: UserLoginFailed
    condition: selection""", """correlation:
    type: event_count
    rules:
        - {base}
    group-by:
        - UserId
    timespan: 10m
    condition:
        eq: 3"""),
    "correlation_event_count_neq_generate": ("""    selection:
        Operation: UserLoginFailed
    condition: selection""", """correlation:
    type: event_count
    generate: true
    rules:
        - {base}
    group-by:
        - UserId
    timespan: 10m
    condition:
        neq: 1"""),
}

TEMPORALS = {
    "correlation_temporal": "temporal",
    "correlation_temporal_ordered": "temporal_ordered",
}


def rid(name):
    return str(uuid.uuid5(NS, name))


def main():
    OUT.mkdir(exist_ok=True)
    for name, det in DETECTIONS.items():
        (OUT / f"{name}.yml").write_text(HEAD.format(name=name, id=rid(name), det=det))
    for name, (det, corr) in CORRELATIONS.items():
        base = f"{name}_base"
        text = HEAD.format(name=base, id=rid(base), det=det).replace("id:", f"name: {base}\nid:", 1)
        text += "---\n" + f"title: Spec example {name}\nid: {rid(name)}\nstatus: test\n" + corr.format(base=base) + "\nlevel: medium\n"
        (OUT / f"{name}.yml").write_text(text)
    for name, kind in TEMPORALS.items():
        a, b = f"{name}_first", f"{name}_second"
        text = HEAD.format(name=a, id=rid(a), det="    selection:\n        Operation: UserLoginFailed\n    condition: selection").replace("id:", f"name: {a}\nid:", 1)
        text += "---\n" + HEAD.format(name=b, id=rid(b), det="    selection:\n        Operation: UserLoggedIn\n    condition: selection").replace("id:", f"name: {b}\nid:", 1)
        text += "---\n" + f"title: Spec example {name}\nid: {rid(name)}\nstatus: test\ncorrelation:\n    type: {kind}\n    rules:\n        - {a}\n        - {b}\n    group-by:\n        - UserId\n    timespan: 5m\nlevel: high\n"
        (OUT / f"{name}.yml").write_text(text)
    # aliases (spec: correlation rules, "Field name aliases")
    a, b, name = "internal_error", "new_network_connection", "correlation_temporal_aliases"
    text = HEAD.format(name=a, id=rid(a), det="    selection:\n        http.response.status_code: 500\n    condition: selection").replace("id:", f"name: {a}\nid:", 1)
    text += "---\n" + HEAD.format(name=b, id=rid(b), det="    selection:\n        event.category: network\n        event.type: connection\n        event.outcome: success\n    condition: selection").replace("id:", f"name: {b}\nid:", 1)
    text += "---\n" + f"""title: Spec example {name}
id: {rid(name)}
status: test
correlation:
    type: temporal
    rules:
        - {a}
        - {b}
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            {a}: destination.ip
            {b}: source.ip
        remote_ip:
            {a}: source.ip
            {b}: destination.ip
level: high
"""
    (OUT / f"{name}.yml").write_text(text)


if __name__ == "__main__":
    main()
