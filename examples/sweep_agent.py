#!/usr/bin/env python3
"""A lablog sweep worker in plain Python: no third-party package needed.

It creates the sweep (or attaches to it: same name, same config), then asks the server for trials one
after another. Each trial trains a logistic regression with mini-batch SGD + momentum on seeded
synthetic data, logs loss, lr, val_loss and val_acc to the trial's run, asks the server every
--check-every steps whether to stop early (median rule), and sends heartbeats from a background thread
while it trains. The search is TPE ("bayes") over the learning rate (log-uniform), the momentum and
the batch size (a categorical).

Metrics go through `mlflow` (mlflow.start_run(run_id=...), mlflow.log_metrics) when it is installed,
else through the same MLflow REST calls made with urllib (runs/log-batch, runs/update); --rest forces
the latter. MLFLOW_TRACKING_URI picks the server (default http://127.0.0.1:5000); MLFLOW_TRACKING_TOKEN,
or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, authenticate. Transient failures (a refused
connection, a dropped answer, 429/502/503/504) are retried for 30 s, log batches with an Idempotency-Key
so that none is written twice. A trial the server gave up on (no heartbeat before its timeout) keeps its
run FAILED and is not held against the worker. Python 3.8 or later.

    npm start                                        # a lablog server on http://127.0.0.1:5000
    python3 examples/sweep_agent.py --count 10       # in as many terminals as you like
"""

import argparse
import base64
import http.client
import json
import math
import os
import random
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000").rstrip("/")
MAX_FAILURES_IN_ROW = 3
RETRY_FOR_S = 30.0  # transient failures are retried this long, so a worker rides out a server restart
TRANSIENT_STATUS = (429, 502, 503, 504)


# --- HTTP ---------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status, body):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            parsed = {}
        self.status = status
        self.error_code = parsed.get("error_code", "")
        super().__init__(f"HTTP {status} {self.error_code}: {parsed.get('message', body[:300])}")


def _auth_header():
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user is not None or password is not None:
        pair = f"{user or ''}:{password or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def _send(method, url, data, headers):
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        raise ApiError(e.code, e.read().decode("utf-8", "replace")) from None
    return json.loads(text) if text else {}


def call(method, path, body=None, query=None, headers=None, retry=True):
    """One JSON request; a non-2xx answer raises ApiError. With `retry`, a refused connection, a dropped
    answer, a timeout and 429/502/503/504 are retried with backoff for RETRY_FOR_S (other errors are
    not: the request may have been applied)."""
    url = TRACKING_URI + path + ("?" + urllib.parse.urlencode(query) if query else "")
    all_headers = {**_auth_header(), **(headers or {})}
    data = None
    if body is not None:
        # allow_nan=False: a bare NaN is not JSON, and the server refuses it (see wire_double).
        data = json.dumps(body, allow_nan=False).encode()
        all_headers["Content-Type"] = "application/json"
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return _send(method, url, data, all_headers)
        except ApiError as e:
            if not retry or e.status not in TRANSIENT_STATUS or time.monotonic() - started >= RETRY_FOR_S:
                raise
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout):
            if not retry or time.monotonic() - started >= RETRY_FOR_S:
                raise
        time.sleep(random.uniform(0, min(5.0, 0.1 * 2 ** min(attempt, 10))))
        attempt += 1


def mlflow_api(method, route, body=None, query=None, headers=None):
    return call(method, "/api/2.0/mlflow/" + route, body, query, headers)


def sweep_api(sweep_id, route, body=None, retry=True):
    """A sweep endpoint, retried on transient failures (a `next` carries its request_id on every retry,
    so a lost answer gives the same trial back)."""
    path = f"/api/2.0/lablog/sweeps/{urllib.parse.quote(sweep_id, safe='')}/{route}"
    return call("POST", path, body if body is not None else {}, retry=retry)


def experiment_id(name):
    """The id of the experiment `name`, created when missing."""
    try:
        return mlflow_api("GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"]["experiment_id"]
    except ApiError as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
    try:
        return mlflow_api("POST", "experiments/create", {"name": name})["experiment_id"]
    except ApiError as e:  # another worker created it meanwhile
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return mlflow_api("GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"]["experiment_id"]


def end_run(run_id, status):
    mlflow_api("POST", "runs/update", {"run_id": run_id, "status": status, "end_time": int(time.time() * 1000)})


# --- logging to the trial's run: mlflow, or its REST API --------------------------------------


def wire_double(v):
    """A metric value as MLflow's JSON writes doubles: NaN and the infinities as strings."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


class RestLogger:
    """Buffers metric points and sends them as runs/log-batch (at most 1000 per request)."""

    name = "rest"

    def __init__(self, run_id):
        self.run_id = run_id
        self.pending = []

    def log_metrics(self, metrics, step):
        now = int(time.time() * 1000)
        self.pending.extend({"key": k, "value": wire_double(v), "timestamp": now, "step": step} for k, v in metrics.items())

    def flush(self):
        while self.pending:
            batch = self.pending[:1000]
            # The key makes a retry safe: a batch the server wrote but whose answer was lost is not
            # written twice (lablog's Idempotency-Key; other servers ignore the header).
            key = {"Idempotency-Key": uuid.uuid4().hex}
            mlflow_api("POST", "runs/log-batch", {"run_id": self.run_id, "metrics": batch}, headers=key)
            self.pending = self.pending[1000:]

    def end(self, status):
        try:
            self.flush()
        finally:
            end_run(self.run_id, status)


class MlflowLogger:
    """The same through the mlflow package, resuming the run the server created for the trial."""

    name = "mlflow"

    def __init__(self, run_id):
        import mlflow

        self.mlflow = mlflow
        mlflow.set_tracking_uri(TRACKING_URI)
        mlflow.start_run(run_id=run_id)

    def log_metrics(self, metrics, step):
        self.mlflow.log_metrics(metrics, step=step)

    def flush(self):
        # log_metrics is synchronous unless MLFLOW_ENABLE_ASYNC_LOGGING is set; then this waits for
        # the queue (mlflow >= 2.8 has flush_async_logging).
        flush = getattr(self.mlflow, "flush_async_logging", None)
        if flush is not None:
            flush()

    def end(self, status):
        self.mlflow.end_run(status=status)


def logger_class(force_rest):
    if force_rest:
        return RestLogger
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return RestLogger
    return MlflowLogger


def heartbeat_every(requested_s, sweep):
    """At most a third of the sweep's heartbeat timeout: two lost beats do not time the trial out."""
    return min(requested_s, sweep["config"]["heartbeat_timeout_ms"] / 3000)


class Heartbeat:
    """Tells the server every `every_s` seconds that this worker still runs the trial (a daemon thread).
    `lost` is set once an answer says the server failed the trial (it timed out, e.g. while this machine
    slept, or its run was ended elsewhere): its point is handed out again, so going on is wasted work."""

    def __init__(self, sweep_id, run_id, every_s):
        self.sweep_id, self.run_id = sweep_id, run_id
        self.stopped = threading.Event()
        self.lost = None

        def beat():
            while not self.stopped.wait(every_s):
                try:  # not retried: the next beat is the retry; a long outage times the trial out
                    self.check(sweep_api(sweep_id, "heartbeat", {"run_id": run_id}, retry=False))
                except Exception as e:
                    print(f"heartbeat failed: {e}", file=sys.stderr)

        self.thread = threading.Thread(target=beat, daemon=True)
        self.thread.start()

    def check(self, answer):
        trial = answer["trial"]
        if trial["status"] == "FAILED" and self.lost is None:
            self.lost = trial.get("stop_reason") or "its run was ended"
        return trial["status"]

    def final_status(self):
        """The trial's status now, from one more heartbeat (None if the server cannot be reached)."""
        try:
            return self.check(sweep_api(self.sweep_id, "heartbeat", {"run_id": self.run_id}))
        except Exception as e:
            print(f"heartbeat failed: {e}", file=sys.stderr)
            return None

    def stop(self):
        """Returns once the thread is gone: no heartbeat is sent after the trial's end."""
        self.stopped.set()
        self.thread.join()


# --- the model: logistic regression on seeded synthetic data ------------------------------------


def synthetic_data(seed, n=800, dims=8):
    """Points x ~ N(0, I); labels from a hidden linear rule plus noise. 80% train, 20% validation."""
    rnd = random.Random(seed)
    w_true = [rnd.gauss(0, 1) for _ in range(dims)]
    xs, ys = [], []
    for _ in range(n):
        x = [rnd.gauss(0, 1) for _ in range(dims)]
        z = sum(a * b for a, b in zip(w_true, x)) + rnd.gauss(0, 1.0)
        xs.append(x)
        ys.append(1 if z > 0 else 0)
    cut = int(n * 0.8)
    return (xs[:cut], ys[:cut]), (xs[cut:], ys[cut:])


def sigmoid(z):
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def log_loss(p, y):
    p = min(max(p, 1e-12), 1 - 1e-12)
    return -math.log(p) if y == 1 else -math.log(1 - p)


def evaluate(w, b, xs, ys):
    loss = right = 0
    for x, y in zip(xs, ys):
        p = sigmoid(sum(a * c for a, c in zip(w, x)) + b)
        loss += log_loss(p, y)
        right += (p >= 0.5) == (y == 1)
    return loss / len(ys), right / len(ys)


def train(params, steps, check_every, seed, logger, should_stop):
    """SGD with momentum; returns (val_loss, stopped early). The data is the same for every trial."""
    lr, momentum, batch = float(params["lr"]), float(params["momentum"]), int(params["batch_size"])
    (xs, ys), (val_xs, val_ys) = synthetic_data(seed)
    rnd = random.Random(seed + 1)
    dims = len(xs[0])
    w, b = [0.0] * dims, 0.0
    vw, vb = [0.0] * dims, 0.0
    val_loss = float("nan")
    for step in range(steps):
        gw, gb, loss = [0.0] * dims, 0.0, 0.0
        for _ in range(batch):
            i = rnd.randrange(len(xs))
            p = sigmoid(sum(a * c for a, c in zip(w, xs[i])) + b)
            g = p - ys[i]
            for j in range(dims):
                gw[j] += g * xs[i][j]
            gb += g
            loss += log_loss(p, ys[i])
        for j in range(dims):
            vw[j] = momentum * vw[j] - lr * gw[j] / batch
            w[j] += vw[j]
        vb = momentum * vb - lr * gb / batch
        b += vb
        logger.log_metrics({"loss": loss / batch, "lr": lr}, step)
        if (step + 1) % check_every == 0 or step == steps - 1:
            val_loss, val_acc = evaluate(w, b, val_xs, val_ys)
            logger.log_metrics({"val_loss": val_loss, "val_acc": val_acc}, step)
            if step < steps - 1 and should_stop():
                return val_loss, True
    return val_loss, False


# --- the worker ---------------------------------------------------------------------------------


def sweep_config(args, exp_id):
    return {
        "experiment_id": exp_id,
        "name": args.sweep_name,
        "method": "bayes",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "lr": {"distribution": "log_uniform", "min": 1e-3, "max": 3.0},
            "momentum": {"distribution": "uniform", "min": 0.0, "max": 0.95},
            "batch_size": {"values": [8, 32, 128]},
        },
        "run_cap": args.trials,
        "early_terminate": {"type": "median", "min_iter": args.check_every * 5, "min_trials": 3},
        "tpe": {"n_startup_trials": 5},
        "seed": args.seed,
    }


def run_trial(args, sweep, trial, make_logger):
    """Trains one trial; returns "completed", "stopped", "lost" (the server failed it: its run is left
    failed) or raises (the run is then ended FAILED, or KILLED on Ctrl-C)."""
    run_id = trial["run_id"]
    heartbeat = Heartbeat(sweep["sweep_id"], run_id, heartbeat_every(args.heartbeat_s, sweep))
    logger = None
    reason = []

    def should_stop():
        if heartbeat.lost is not None:
            reason.append(heartbeat.lost)
            return True
        logger.flush()  # the server judges the points it has: send the latest first
        answer = sweep_api(sweep["sweep_id"], "should-stop", {"run_id": run_id})
        if answer["should_stop"]:
            reason.append(answer["reason"])
        return answer["should_stop"]

    try:
        logger = make_logger(run_id)
        val_loss, stopped = train(trial["params"], args.steps, args.check_every, args.data_seed, logger, should_stop)
    except BaseException as e:
        heartbeat.stop()
        status = "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED"
        try:
            if logger is None:
                end_run(run_id, status)
            else:
                logger.end(status)
        except Exception as end_error:  # the training's error is the one to report
            print(f"could not end run {run_id} {status}: {end_error}", file=sys.stderr)
        raise
    # The server's word on the trial, asked once more: a trial it failed (timed out) keeps its run
    # failed, with no FINISHED over it.
    lost = heartbeat.final_status() == "FAILED" or heartbeat.lost is not None
    heartbeat.stop()
    if lost:
        run = mlflow_api("GET", "runs/get", query={"run_id": run_id})["run"]
        logger.end("KILLED" if run["info"]["status"] == "KILLED" else "FAILED")  # as the server (or whoever) left it
        print(f"trial {trial['number']:3d}  failed by the server ({heartbeat.lost}): its point goes to another worker", flush=True)
        return "lost"
    logger.end("FINISHED")  # a stopped trial too: the server marks it STOPPED from its should-stop
    params = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in trial["params"].items())
    how = f"stopped early ({reason[-1]})" if stopped else "completed"
    print(f"trial {trial['number']:3d}  {params}  val_loss {val_loss:.4f}  {how}", flush=True)
    return "stopped" if stopped else "completed"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help="trials this worker runs (default: until the sweep is over)")
    parser.add_argument("--sweep-name", default="logreg-bayes")
    parser.add_argument("--experiment", default="examples/sweep-python")
    parser.add_argument("--trials", type=int, default=30, help="the sweep's run_cap")
    parser.add_argument("--steps", type=int, default=300, help="SGD steps per trial")
    parser.add_argument("--check-every", type=int, default=20, help="steps between validations and should-stop calls")
    parser.add_argument("--seed", type=int, default=1, help="the sweep's seed (its draws)")
    parser.add_argument("--data-seed", type=int, default=7)
    parser.add_argument("--heartbeat-s", type=float, default=30.0)
    parser.add_argument("--rest", action="store_true", help="log over the REST API even when mlflow is installed")
    args = parser.parse_args()

    make_logger = logger_class(args.rest)
    sweep = call("POST", "/api/2.0/lablog/sweeps/create", sweep_config(args, experiment_id(args.experiment)))["sweep"]
    print(f"sweep {sweep['sweep_id']} '{sweep['name']}' on {TRACKING_URI} ({sweep['status']}), logging with {make_logger.name}", flush=True)

    worker = f"{socket.gethostname()}-{os.getpid()}"
    done = {"completed": 0, "stopped": 0, "failed": 0}
    ran = failures_in_row = 0
    while args.count is None or ran < args.count:
        # One request id per ask, the same on its retries: a lost answer gives the same trial back.
        ask = {"worker": worker, "request_id": uuid.uuid4().hex, "user": os.environ.get("USER", "")}
        answer = sweep_api(sweep["sweep_id"], "next", ask)
        sweep = answer["sweep"]
        trial = answer.get("trial")
        if trial is None:
            if "retry_after_ms" not in answer:
                break  # the sweep is over (finished, or stopped)
            time.sleep(answer["retry_after_ms"] / 1000)  # paused, or every grid point is taken
            continue
        ran += 1
        try:
            outcome = run_trial(args, sweep, trial, make_logger)
        except Exception:
            done["failed"] += 1
            failures_in_row += 1
            traceback.print_exc()
            if failures_in_row >= MAX_FAILURES_IN_ROW:
                raise
            continue
        if outcome == "lost":
            done["failed"] += 1  # not the code's fault: it neither counts towards giving up nor resets the count
        else:
            done[outcome] += 1
            failures_in_row = 0

    sweep = call("GET", f"/api/2.0/lablog/sweeps/{sweep['sweep_id']}")["sweep"]
    print(f"ran {ran} trials here {done}; sweep {sweep['status']} {sweep['counts']}")
    best = sweep.get("best_trial")
    if best:
        print(f"best: trial {best['number']}, val_loss {best['value']}, params {json.dumps(best['params'])}")


if __name__ == "__main__":
    main()
