"""Fixtures for the trtllm-serve suite: real servers on 127.0.0.1 (port 0: the server picks a free
port and prints it), the default model, and the official openai client. Nothing else is contacted."""
import os
import re
import signal
import subprocess
import time
import urllib.request

import openai
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def pytest_addoption(parser):
    parser.addoption("--server-binary", default=os.environ.get("TRTLLM_SERVE", os.path.join(REPO, ".build", "debug", "trtllm-serve")),
                     help="the trtllm-serve executable to test")
    parser.addoption("--model", default=os.environ.get("TLLM_MODEL", ""), help="GGUF checkpoint (default: the fetched default model)")
    parser.addoption("--load-seconds", type=float, default=float(os.environ.get("TRTLLM_LOAD_SECONDS", "25")),
                     help="how long the load test runs (the acceptance run uses 120)")


class Server:
    """A trtllm-serve process; stderr goes to a log file shown when a test fails."""

    def __init__(self, binary, model, extra_args, log_path):
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"{binary} is not built; run `swift build --product trtllm-serve` first")
        args = [binary, "--host", "127.0.0.1", "--port", "0"] + ([model] if model else []) + list(extra_args)
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        deadline = time.monotonic() + 180
        line = b""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            m = re.search(rb"listening on http://([\d.]+):(\d+)", line)
            if m:
                self.base_url = f"http://127.0.0.1:{int(m.group(2))}"
                break
        else:
            self.stop()
            raise RuntimeError("trtllm-serve did not start within 180 s")
        if not hasattr(self, "base_url"):
            self.stop()
            raise RuntimeError(f"trtllm-serve exited before listening (status {self.process.poll()}); see {log_path}")
        self.model_name = self.get_json("/v1/models")["data"][0]["id"]

    def get(self, path):
        with urllib.request.urlopen(self.base_url + path, timeout=30) as r:
            return r.status, r.read().decode()

    def get_json(self, path):
        import json
        return json.loads(self.get(path)[1])

    def metrics(self):
        """Metric name (with labels stripped) → value, for unlabelled-by-reason series."""
        values = {}
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name_labels, value = line.rsplit(" ", 1)
            name = name_labels.split("{", 1)[0]
            reason = re.search(r'finished_reason="(\w+)"', name_labels)
            if reason:
                name += ":" + reason.group(1)
            if "_bucket" in name or "http_requests_total" in name:
                continue
            values[name] = float(value)
        return values

    def wait_idle(self, timeout=30):
        """Polls /metrics until no request runs or waits and no KV block is held; returns the metrics."""
        deadline = time.monotonic() + timeout
        m = self.metrics()
        while time.monotonic() < deadline:
            m = self.metrics()
            if m["trtllm_num_requests_running"] == 0 and m["trtllm_num_requests_waiting"] == 0 and m["trtllm_kv_cache_blocks_used"] == 0:
                return m
            time.sleep(0.2)
        return m

    def client(self, **kwargs):
        return openai.OpenAI(base_url=self.base_url + "/v1", api_key="unused", max_retries=0, timeout=kwargs.pop("timeout", 120), **kwargs)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals the server and waits; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def start_server(request, tmp_path_factory):
    """Starts extra servers with their own flags; all are stopped at the end of the session."""
    started = []

    def start(*extra_args):
        log = tmp_path_factory.mktemp("server") / "trtllm-serve.log"
        s = Server(request.config.getoption("--server-binary"), request.config.getoption("--model"), extra_args, str(log))
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def server(start_server):
    """The shared server: default model, 64-sequence batches, a 16k-token KV cache."""
    return start_server("--max-batch-size", "64", "--kv-cache-max-tokens", "16384")


@pytest.fixture(scope="session")
def client(server):
    return server.client()


@pytest.fixture(scope="session")
def model(server):
    return server.model_name


@pytest.fixture(scope="session")
def load_seconds(request):
    return request.config.getoption("--load-seconds")
