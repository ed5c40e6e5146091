#!/usr/bin/env python3
"""Load generator for scripts/bench-serve.sh (standard library only).

  push    --port P --token-file F --bodies DIR [--conns N]
          send every file of DIR (one body each) over N keep-alive connections, as fast as
          the service takes them (429: wait Retry-After and send again); prints JSON stats.
  stream  --port P --token-file F --file NDJSON --skip N --records N --rate R [--batch B]
          send N lines of NDJSON (after skipping N) at R records/s in bodies of B lines, and
          every second probe push-to-alert latency with one single-record detection;
          prints JSON stats.
  latency --port P --token-file F --samples N
          push-to-alert latency of single-record detections on an idle service.
  wait    --port P --token-file F
          wait until every accepted record is through the detector; prints the seconds.
"""
import argparse
import http.client
import json
import os
import threading
import time
import uuid

# A rule that fires on one record: Microsoft 365 activity from a Storm-0558 IP address.
RULE = "732ffb3d-b0f0-42a5-9fea-8fbb15b3815e"


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def call(c, token, method, path, body=None, headers=None):
    h = {"Authorization": "Bearer " + token}
    if headers:
        h.update(headers)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), data


def post_body(c, token, body):
    """POST until 2xx; returns (records accepted, 429s seen)."""
    throttled = 0
    while True:
        status, headers, data = call(c, token, "POST", "/api/v1/ingest", body,
                                     {"Content-Type": "application/x-ndjson"})
        if status == 200:
            return json.loads(data)["accepted"], throttled
        if status == 429:
            throttled += 1
            time.sleep(float(headers.get("Retry-After", "1")))
            continue
        raise SystemExit(f"ingest answered {status}: {data[:300]!r}")


def metric(port, token, name):
    c = conn(port)
    _, _, data = call(c, token, "GET", "/metrics")
    c.close()
    for line in data.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_drained(port, token, timeout=3600):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if metric(port, token, "stormwatch_pipeline_pending_records") == 0:
            return time.time() - t0
        time.sleep(0.05)
    raise SystemExit("the detector did not catch up")


def push(a):
    token = open(a.token_file).read().strip()
    files = sorted(os.path.join(a.bodies, f) for f in os.listdir(a.bodies))
    lock = threading.Lock()
    stats = {"records": 0, "bodies": 0, "throttled": 0, "bytes": 0}
    queue = list(reversed(files))

    def worker():
        c = conn(a.port)
        while True:
            with lock:
                if not queue:
                    break
                f = queue.pop()
            body = open(f, "rb").read()
            n, t = post_body(c, token, body)
            with lock:
                stats["records"] += n
                stats["bodies"] += 1
                stats["throttled"] += t
                stats["bytes"] += len(body)
        c.close()

    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(a.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t1 = time.time()
    drain = wait_drained(a.port, token)
    t2 = time.time()
    stats["accept_seconds"] = t1 - t0
    stats["accepted_per_s"] = stats["records"] / (t1 - t0)
    stats["processed_seconds"] = t2 - t0
    stats["processed_per_s"] = stats["records"] / (t2 - t0)
    stats["drain_after_last_answer_s"] = drain
    print(json.dumps(stats))


def probe_record(when):
    rid = str(uuid.uuid4())
    rec = {
        "CreationTime": when, "Id": rid, "Operation": "MailItemsAccessed", "RecordType": 50,
        "UserId": "probe@agency.example", "MailboxOwnerUPN": "probe@agency.example",
        "OrganizationId": "00000000-0000-4000-8000-00000000beef", "Workload": "Exchange",
        "ClientIPAddress": "51.89.156.153", "ResultStatus": "Succeeded",
    }
    return rid, json.dumps(rec).encode()


def probe(port, token, when, c=None):
    """Push one single-record detection; seconds until its alert is in the API."""
    own = c is None
    c = c or conn(port)
    rid, body = probe_record(when)
    t0 = time.time()
    status, _, data = call(c, token, "POST", "/api/v1/ingest", body)
    if status != 200:
        raise SystemExit(f"probe answered {status}: {data[:200]!r}")
    path = f"/api/v1/alerts?limit=5&rule_id={RULE}"
    while True:
        _, _, data = call(c, token, "GET", path)
        alerts = json.loads(data)["alerts"]
        if any(e.get("record_id") == rid for a in alerts for e in a["events"]):
            dt = time.time() - t0
            if own:
                c.close()
            return dt
        if time.time() - t0 > 60:
            raise SystemExit("no alert for the probe within 60 s")
        time.sleep(0.002)


def percentiles(xs):
    xs = sorted(xs)
    if not xs:
        return {}
    pick = lambda p: xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
    return {"n": len(xs), "p50_ms": pick(0.5) * 1e3, "p99_ms": pick(0.99) * 1e3,
            "max_ms": xs[-1] * 1e3}


def latency(a):
    token = open(a.token_file).read().strip()
    when = a.when or time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    c = conn(a.port)
    xs = [probe(a.port, token, when, c) for _ in range(a.samples)]
    c.close()
    print(json.dumps(percentiles(xs)))


def stream(a):
    token = open(a.token_file).read().strip()
    f = open(a.file, "rb")
    for _ in range(a.skip):
        f.readline()
    probes = []
    stop = threading.Event()
    last_time = {"t": None}

    def prober():
        c = conn(a.port)
        while not stop.is_set():
            when = last_time["t"]
            if when:
                probes.append(probe(a.port, token, when, c))
            stop.wait(1.0)
        c.close()

    th = threading.Thread(target=prober)
    th.start()
    c = conn(a.port)
    sent = 0
    throttled = 0
    t0 = time.time()
    while sent < a.records:
        lines = []
        for _ in range(min(a.batch, a.records - sent)):
            line = f.readline()
            if not line:
                break
            lines.append(line)
        if not lines:
            break
        try:
            last_time["t"] = json.loads(lines[-1]).get("CreationTime") or last_time["t"]
        except ValueError:
            pass
        n, t = post_body(c, token, b"".join(lines))
        sent += n
        throttled += t
        # Hold the rate.
        ahead = sent / a.rate - (time.time() - t0)
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.time() - t0
    stop.set()
    th.join()
    c.close()
    out = {"records": sent, "seconds": elapsed, "per_s": sent / elapsed, "throttled": throttled,
           "latency_under_load": percentiles(probes)}
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("push", "stream", "latency", "wait"):
        s = sub.add_parser(name)
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--token-file", required=True)
        if name == "push":
            s.add_argument("--bodies", required=True)
            s.add_argument("--conns", type=int, default=2)
        if name == "stream":
            s.add_argument("--file", required=True)
            s.add_argument("--skip", type=int, default=0)
            s.add_argument("--records", type=int, required=True)
            s.add_argument("--rate", type=float, required=True)
            s.add_argument("--batch", type=int, default=2000)
        if name == "latency":
            s.add_argument("--samples", type=int, default=200)
            s.add_argument("--when")
    a = p.parse_args()
    if a.cmd == "push":
        push(a)
    elif a.cmd == "stream":
        stream(a)
    elif a.cmd == "latency":
        latency(a)
    else:
        token = open(a.token_file).read().strip()
        print(json.dumps({"drain_seconds": wait_drained(a.port, token)}))


if __name__ == "__main__":
    main()
