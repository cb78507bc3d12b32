"""The floor bench's client loop in Python (issue #14), stdlib only: what a call costs a training script
whose client speaks plain HTTP from Python, as the stock mlflow client does. bench/floor.ts runs it
against lablog and against the floor server in turn:

    python3 bench/floor_client.py '{"url": "http://127.0.0.1:5000", "run_id": "...", ...}'

and reads one JSON line back: per call kind, the latencies' p50 and p95 in ms and how many calls ran.
The timed part of a call ends when the last byte of the answer has arrived (no JSON parsing in it).
"""
import http.client
import json
import sys
import time
from urllib.parse import urlparse


def percentile(samples, p):
    s = sorted(samples)
    if not s:
        return None
    return s[min(len(s) - 1, max(0, -(-p * len(s) // 100) - 1))]


def main():
    cfg = json.loads(sys.argv[1])
    u = urlparse(cfg["url"])
    conn = http.client.HTTPConnection(u.hostname, u.port or 80)
    json_headers = {"Content-Type": "application/json"}

    def call(method, path, body=None):
        conn.request(method, path, body=body, headers=json_headers if body is not None else {})
        res = conn.getresponse()
        data = res.read()
        if res.status != 200:
            raise SystemExit(f"{method} {path} -> HTTP {res.status}: {data[:300]!r}")
        return data

    def loop(fn, seconds, max_calls, warmup):
        for i in range(warmup):
            fn(i)
        lat = []
        deadline = time.perf_counter() + seconds
        i = 0
        while i < max_calls and time.perf_counter() < deadline:
            t = time.perf_counter()
            fn(warmup + i)
            lat.append((time.perf_counter() - t) * 1000)
            i += 1
        return {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "calls": len(lat)}

    t0 = int(time.time() * 1000)
    step0 = cfg["log_metric_step0"]

    def log_metric(i):
        body = json.dumps({"run_id": cfg["run_id"], "key": "py_loss", "value": 1.0 / (i + 1), "timestamp": t0 + i, "step": step0 + i})
        call("POST", "/api/2.0/mlflow/runs/log-metric", body)

    search_body = json.dumps(cfg["search"])

    def search(_):
        call("POST", "/api/2.0/mlflow/runs/search", search_body)

    def history(_):
        call("GET", cfg["history_path"])

    s = cfg["seconds"]
    out = {
        "log_metric": loop(log_metric, s, 100000, 200),
        "search": loop(search, s, 100000, 20),
        "history": loop(history, s * 2, cfg["history_calls"], 2),
    }
    conn.close()
    print(json.dumps(out))


main()
