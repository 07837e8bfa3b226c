"""`vgg-deploy serve` and `loadtest` against a real Triton (PyTriton) serving vgg_tiny on 127.0.0.1.

Needs the serving venv (PyTriton requires numpy < 2): `bash scripts/setup_serve_env.sh`, then
`.venv-serve/bin/python -m pytest --noconftest tests/test_serve.py` (scripts/test.sh does both). The model is
exported by the main venv's Python (torch lives there), named by VGG_DEPLOY_MAIN_PYTHON or found at .venv/bin/python.
All traffic stays on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="serving tests run in the serving venv (bash scripts/setup_serve_env.sh)")
http = pytest.importorskip("tritonclient.http")
grpc = pytest.importorskip("tritonclient.grpc")

from click.testing import CliRunner  # noqa: E402

from vgg_deploy.serve.metrics import scrape_counters  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MODEL = "vgg_tiny"
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60

# Runs the serve command under the CLI's group, as `vgg-deploy serve` does once registered.
_SERVER = """
import sys
from vgg_deploy.cli import _Group
from vgg_deploy.cli.serve_cmd import serve
sys.exit(_Group("vgg-deploy", commands=[serve])(["serve", *sys.argv[1:]]))
"""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _listening(ports: list[int]) -> dict[int, list[str]]:
    """Local addresses (hex, as /proc/net/tcp{,6} writes them) listening on each port."""
    found: dict[int, list[str]] = {p: [] for p in ports}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A" and int(port, 16) in found:
                found[int(port, 16)].append(address)
    return found


def _loopback(hex_address: str) -> bool:
    return hex_address in ("0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000")


def _shm_entries() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _workspaces() -> set[str]:
    root = Path.home() / ".cache" / "pytriton"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    main_python = Path(os.environ.get("VGG_DEPLOY_MAIN_PYTHON", ROOT / ".venv" / "bin" / "python"))
    if not main_python.is_file():
        pytest.skip(f"no main venv Python at {main_python} to export vgg_tiny (set VGG_DEPLOY_MAIN_PYTHON)")
    path = tmp_path_factory.mktemp("model") / "vgg_tiny.onnx"
    subprocess.run([str(main_python), "-m", "vgg_deploy", "export", "--model", MODEL, "-o", str(path)],
                   check=True, cwd=ROOT, timeout=300, capture_output=True)
    return path


class Server:
    def __init__(self, model: Path, *extra: str) -> None:
        self.http_port, self.grpc_port, self.metrics_port = _free_ports(3)
        self.shm_before, self.workspaces_before = _shm_entries(), _workspaces()
        self.log = model.parent / f"serve-{self.http_port}.log"
        args = [sys.executable, "-c", _SERVER, str(model), "--name", MODEL, "--host", HOST,
                "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
                "--metrics-port", str(self.metrics_port), *extra]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.http_url = f"{HOST}:{self.http_port}"
        self.grpc_url = f"{HOST}:{self.grpc_port}"
        self.metrics_url = f"http://{HOST}:{self.metrics_port}/metrics"
        self._wait_ready()
        self.children = _descendants(self.process.pid)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            if "serving vgg_tiny" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.25)
        self.stop(signal.SIGKILL)
        pytest.fail(f"serve did not start within {START_TIMEOUT_S} s:\n{self.log.read_text()[-3000:]}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for pid in [self.process.pid, *_descendants(self.process.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.wait(10)
            raise


@pytest.fixture(scope="module")
def server(model_file):
    # A long queue delay makes batching certain: concurrent requests wait for each other.
    running = Server(model_file, "--max-batch", "16", "--max-queue-delay-us", "20000")
    yield running
    running.stop()


def _infer_http(url: str, batch: np.ndarray, *, datatype: str = "FP32") -> np.ndarray:
    client = http.InferenceServerClient(url, connection_timeout=30, network_timeout=30)
    try:
        request = http.InferInput("input", list(batch.shape), datatype)
        request.set_data_from_numpy(batch)
        # outputs by keyword: the third positional argument is the model version
        result = client.infer(MODEL, [request], outputs=[http.InferRequestedOutput("logits")])
        return result.as_numpy("logits")
    finally:
        client.close()


def test_binds_only_loopback(server):
    listening = _listening([server.http_port, server.grpc_port, server.metrics_port])
    assert all(listening.values()), listening
    assert all(_loopback(a) for addresses in listening.values() for a in addresses), listening


def test_concurrent_requests_return_the_runners_logits_and_are_batched(server, model_file):
    from vgg_deploy.runtime import load

    images = np.random.default_rng(0).standard_normal((24, 3, 32, 32)).astype(np.float32)
    with load(model_file) as runner:
        expected = runner.infer(images)
    before = scrape_counters(server.metrics_url, MODEL)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            results[i] = _infer_http(server.http_url, images[i:i + 1])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    served = np.concatenate([results[i] for i in range(len(images))])
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    delta = scrape_counters(server.metrics_url, MODEL) - before
    assert delta.requests == len(images) and delta.inferences == len(images)
    assert delta.executions < delta.requests, delta  # the dynamic batcher joined requests


def test_malformed_requests_get_errors_and_the_server_keeps_serving(server):
    good = np.zeros((2, 3, 32, 32), np.float32)
    with pytest.raises(Exception, match="unexpected shape"):
        _infer_http(server.http_url, np.zeros((1, 3, 16, 16), np.float32))
    with pytest.raises(Exception, match="(?i)data.?type|datatype|FP64"):
        _infer_http(server.http_url, good.astype(np.float64), datatype="FP64")
    client = grpc.InferenceServerClient(server.grpc_url)
    try:
        request = grpc.InferInput("input", [1, 3, 32], "FP32")
        request.set_data_from_numpy(np.zeros((1, 3, 32), np.float32))
        with pytest.raises(Exception, match="(?i)shape|dims"):
            client.infer(MODEL, [request], outputs=[grpc.InferRequestedOutput("logits")], client_timeout=30)
        request = grpc.InferInput("input", [2, 3, 32, 32], "FP32")
        request.set_data_from_numpy(good)
        result = client.infer(MODEL, [request], outputs=[grpc.InferRequestedOutput("logits")], client_timeout=30)
        assert result.as_numpy("logits").shape == (2, 10)
    finally:
        client.close()
    assert _infer_http(server.http_url, good).shape == (2, 10)
    assert server.process.poll() is None


def test_nan_inputs_get_an_error_not_nan_logits(server):
    bad = np.zeros((1, 3, 32, 32), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(Exception, match="NaN/Inf"):
        _infer_http(server.http_url, bad)
    assert _infer_http(server.http_url, np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 10)


@pytest.mark.parametrize("protocol, url_of", [("http", lambda s: s.http_url), ("grpc", lambda s: s.grpc_url)])
def test_loadtest_command(server, tmp_path, protocol, url_of):
    from vgg_deploy.cli import _Group
    from vgg_deploy.cli.loadtest_cmd import loadtest

    group = _Group("vgg-deploy", commands=[loadtest])
    result = CliRunner().invoke(group, [
        "loadtest", url_of(server), "--protocol", protocol, "--concurrency", "4", "--requests", "40",
        "--batch-size", "2", "--warmup", "4", "--metrics-url", server.metrics_url, "--timeout", "60", "-o", str(tmp_path),
        "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "loadtest.json").read_text())
    assert report["model"] == MODEL and report["completed"] == 40 and report["errors"] == 0
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p90"] <= report["latency_ms"]["p99"]
    assert report["server"]["requests"] == 40 and report["server"]["inferences"] == 80
    assert report["server"]["average_batch"] >= 2
    assert "| Requests ok |" in (tmp_path / "loadtest.md").read_text()


def test_loadtest_of_a_server_that_is_not_there_is_one_line():
    from vgg_deploy.cli import _Group
    from vgg_deploy.cli.loadtest_cmd import loadtest

    (port,) = _free_ports(1)
    group = _Group("vgg-deploy", commands=[loadtest])
    result = CliRunner().invoke(group, ["loadtest", f"{HOST}:{port}", "--timeout", "5"])
    assert result.exit_code == 1 and "cannot reach" in result.output and result.output.count("\n") == 1


def _alive(pids: set[int]) -> dict[int, str]:
    found = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
        except (OSError, IndexError):
            pass
    return found


def _assert_nothing_left(server: Server) -> None:
    deadline = time.monotonic() + 15  # helpers such as multiprocessing's resource tracker exit just after us
    while _alive(server.children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(server.children), f"processes left: {_alive(server.children)}"
    for port in (server.http_port, server.grpc_port, server.metrics_port):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((HOST, port))  # the port is free again
    assert _shm_entries() <= server.shm_before, f"shared memory left: {_shm_entries() - server.shm_before}"
    assert _workspaces() <= server.workspaces_before, f"workspace left: {_workspaces() - server.workspaces_before}"


def test_sigint_shuts_down_cleanly(model_file):
    second = Server(model_file, "--max-batch", "4")
    assert second.children, "Triton runs as a child process"
    assert second.stop(signal.SIGINT) == 0
    assert "server stopped" in second.log.read_text()
    _assert_nothing_left(second)


def test_sigterm_shuts_down_cleanly(server):  # last: it stops the module's server
    assert server.stop(signal.SIGTERM) == 0
    assert "server stopped" in server.log.read_text()
    _assert_nothing_left(server)


def test_a_busy_port_is_one_line_at_once(model_file):
    from vgg_deploy.cli import _Group
    from vgg_deploy.cli.serve_cmd import serve

    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        http_port, grpc_port = _free_ports(2)
        group = _Group("vgg-deploy", commands=[serve])
        result = CliRunner().invoke(group, ["serve", str(model_file), "--http-port", str(http_port),
                                            "--grpc-port", str(grpc_port), "--metrics-port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"cannot bind {HOST}:{port}" in result.output and "--metrics-port" in result.output


def _stub_folders() -> set[Path]:
    import tempfile

    return set(Path(tempfile.gettempdir()).glob("folder*"))


def test_a_request_that_kills_triton_ends_serve_cleanly(model_file):
    """Triton 2.51 allocates a JSON request's declared shape before checking it: [1e8, 3, 32, 32] aborts
    tritonserver (std::bad_alloc). Then serve exits 1 with one line, leaving no process or folder behind;
    if a later Triton refuses the request instead, the server must simply keep serving."""
    import urllib.request

    folders_before = _stub_folders()
    doomed = Server(model_file, "--max-batch", "4")
    body = json.dumps({"inputs": [{"name": "input", "shape": [100_000_000, 3, 32, 32], "datatype": "FP32",
                                   "data": [0.0]}]}).encode()
    request = urllib.request.Request(f"http://{doomed.http_url}/v2/models/{MODEL}/infer", data=body,
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(Exception):  # an HTTP error, or the connection closed by the dying server
        urllib.request.urlopen(request, timeout=60)
    try:
        code = doomed.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # Triton survived: it bounded the request itself
        assert _infer_http(doomed.http_url, np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 10)
        assert doomed.stop() == 0
        return
    log = doomed.log.read_text(errors="replace")
    assert code == 1, log[-2000:]
    assert "Error: Triton stopped unexpectedly" in log and "Traceback" not in log and "CleanupWarning" not in log
    _assert_nothing_left(doomed)
    assert _stub_folders() <= folders_before, f"left: {_stub_folders() - folders_before}"
