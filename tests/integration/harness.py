"""harness.py - start the real switchyard binary and the mock upstream on free
loopback ports and talk to them over real HTTP.

Python 3 standard library only. Every process a test starts is killed at
teardown (whatever happened), every network call has a timeout, and the logs
of both processes are printed when a test fails. Owned by the integration
tests (tests/integration/); the binaries come from the environment:
  SWITCHYARD_BIN          build-*/router/switchyard            (meson test_env)
  SWITCHYARD_PLUGIN_PATH  build-*/plugins                      (meson test_env)
  MOCK_UPSTREAM_BIN       build-*/tools/mock-upstream          (tests/integration/meson.build)
  SOURCE_ROOT             the source tree (for policies/demo.yaml)
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# Secrets the tests put in policies; none may ever show up where it must not.
PRIMARY_KEY = "sk-upstream-primary-5f1c"
RELAY_KEY = "sk-upstream-relay-9a7e"
ADMIN_KEY = "adm-secret-77c1"

NET_TIMEOUT = 10.0   # any single network operation
STOP_TIMEOUT = 8.0   # SIGTERM to exit at teardown (sanitizer builds check leaks at exit)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_report(text):
    """The first line of a sanitizer report in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            return line.strip()
    return None
READY_TIMEOUT = 10.0  # router start to /readyz 200


def env_path(name, fallback=None):
    v = os.environ.get(name)
    if v:
        return v
    if fallback:
        return fallback
    raise AssertionError(f"{name} is not set (run these tests through meson test)")


def switchyard_bin():
    return env_path("SWITCHYARD_BIN")


_sanitized = None


def sanitized_build():
    """True when the router was built with AddressSanitizer: its allocator keeps
    freed memory in quarantine, so RSS says nothing about buffering there."""
    global _sanitized
    if _sanitized is None:
        with open(switchyard_bin(), "rb") as fh:
            _sanitized = b"__asan_init" in fh.read()
    return _sanitized


def mock_bin():
    return env_path("MOCK_UPSTREAM_BIN")


def source_root():
    return os.environ.get("SOURCE_ROOT") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until it returns a truthy value; returns it. Raises AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Plain HTTP over http.client

class Response:
    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.headers = headers  # dict, lower-case names; a repeated header keeps the last value
        self.body = body
        self.reason = reason

    def json(self):
        return json.loads(self.body)

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        b = self.body[:300]
        return f"<Response {self.status} {self.headers!r} {b!r}>"


def request(port, method, path, body=None, headers=None, timeout=NET_TIMEOUT):
    """One request on a new connection. body may be bytes, str or a JSON-able object."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body, separators=(",", ":")).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.reason)
    finally:
        conn.close()


def stream_request(port, path, body, headers=None, timeout=NET_TIMEOUT, on_line=None):
    """POST and read the answer line by line as it arrives.

    Returns (Response with the whole body, [(t_arrival, line_bytes), ...]) where
    t_arrival is time.monotonic() when the line was read. on_line(line) may be
    given to act mid-stream (e.g. kill something after the first chunk)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body, separators=(",", ":"))
        if isinstance(body, str):
            body = body.encode()
        conn.request("POST", path, body=body, headers=hdrs)
        r = conn.getresponse()
        lines = []
        chunks = []
        while True:
            line = r.readline()
            if not line:
                break
            lines.append((time.monotonic(), line))
            chunks.append(line)
            if on_line:
                on_line(line)
        return (Response(r.status, {k.lower(): v for k, v in r.getheaders()}, b"".join(chunks),
                         r.reason), lines)
    finally:
        conn.close()


def sse_events(body):
    """Split an SSE body into events: a list of dicts {field: value} (data lines joined by \\n)."""
    text = body.decode("utf-8", errors="replace").replace("\r\n", "\n")
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        ev = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            ev[k] = ev[k] + "\n" + v if k in ev else v
        events.append(ev)
    return events


def chat_body(model="gpt-4o-mini", content="Say hello.", stream=False, **extra):
    b = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        b["stream"] = True
    b.update(extra)
    return json.dumps(b, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------
# Raw sockets (pipelining, smuggling, keep-alive)

def raw_connect(port, timeout=NET_TIMEOUT):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_raw_response(f, method="POST"):
    """Read one HTTP/1.1 response from a buffered binary file (sock.makefile('rb')).

    Returns a Response or None when the peer closed before a status line."""
    status_line = f.readline(65536)
    if not status_line:
        return None
    parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise AssertionError(f"bad status line {status_line!r}")
    status = int(parts[1])
    headers = {}
    while True:
        line = f.readline(65536)
        if not line:
            raise AssertionError("connection closed inside the response headers")
        if line in (b"\r\n", b"\n"):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        pass
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = f.readline(65536)
            if not size_line:
                raise AssertionError("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers
                    t = f.readline(65536)
                    if t in (b"\r\n", b"\n", b""):
                        break
                break
            data = f.read(size)
            if len(data) != size:
                raise AssertionError("connection closed inside a chunk")
            chunks.append(data)
            f.readline(65536)
        body = b"".join(chunks)
    elif "content-length" in headers:
        n = int(headers["content-length"])
        body = f.read(n)
        if len(body) != n:
            raise AssertionError(f"short body: {len(body)} of {n}")
    else:
        body = f.read()
    return Response(status, headers, body, parts[2] if len(parts) > 2 else "")


def peer_closed(sock, timeout=3.0):
    """True when the peer closes the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def established_to_port(port):
    """Number of ESTABLISHED IPv4 TCP sockets on this machine whose remote port is port.

    Used to see whether the router still holds a connection to the mock upstream."""
    n = 0
    with open("/proc/net/tcp") as fh:
        next(fh)
        for line in fh:
            cols = line.split()
            rem, st = cols[2], cols[3]
            if st == "01" and int(rem.split(":")[1], 16) == port:
                n += 1
    return n


# ---------------------------------------------------------------------------
# Processes

_LIVE = set()  # every Proc not yet killed, for the SIGTERM handler below


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies, however it dies
    (meson's timeout, Ctrl-C, a crash), so no router or mock outlives its test."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _on_sigterm(signum, frame):
    for p in list(_LIVE):
        try:
            p.p.kill()
        except OSError:
            pass
    raise SystemExit(128 + signum)


class Proc:
    """A child process with stdout/stderr in files under a temp dir."""

    def __init__(self, name, argv, workdir, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(workdir, f"{name}.stdout")
        self.err_path = os.path.join(workdir, f"{name}.stderr")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self._out, stderr=self._err,
                                  stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                  start_new_session=True, preexec_fn=_die_with_parent)
        _LIVE.add(self)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        _LIVE.discard(self)
        if self.alive():
            try:
                self.p.kill()
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for fh in (self._out, self._err):
            if not fh.closed:
                fh.close()

    def stdout(self):
        with open(self.out_path, "rb") as fh:
            return fh.read().decode("utf-8", errors="replace")

    def stderr(self):
        with open(self.err_path, "rb") as fh:
            return fh.read().decode("utf-8", errors="replace")

    def logs(self, limit=20000):
        out, err = self.stdout(), self.stderr()
        return (f"----- {self.name} (pid {self.pid}, exit {self.p.poll()}) argv: {' '.join(self.argv)}\n"
                f"----- {self.name} stdout ({len(out)} bytes, last {limit}):\n{out[-limit:]}\n"
                f"----- {self.name} stderr ({len(err)} bytes, last {limit}):\n{err[-limit:]}\n")


class Mock(Proc):
    """tools/mock-upstream on a free port (it picks port 0 itself and reports it)."""

    def __init__(self, workdir, chunks=None, chunk_delay_ms=None, faults=(), name="mock"):
        port_file = os.path.join(workdir, f"{name}.port")
        argv = [mock_bin(), "--listen", "127.0.0.1:0", "--port-file", port_file]
        if chunks is not None:
            argv += ["--chunks", str(chunks)]
        if chunk_delay_ms is not None:
            argv += ["--chunk-delay-ms", str(chunk_delay_ms)]
        for f in faults:
            argv += ["--fault", f]
        super().__init__(name, argv, workdir)
        self.port = None
        self._port_file = port_file

    def wait_ready(self):
        port_file = self._port_file

        def port_known():
            if not self.alive():
                raise AssertionError("mock-upstream exited early; stderr:\n" + self.stderr()[-4000:])
            try:
                with open(port_file) as fh:
                    txt = fh.read().strip()
                return int(txt) if txt else None
            except (FileNotFoundError, ValueError):
                return None
        self.port = wait_for(port_known, READY_TIMEOUT, what="mock-upstream port file")
        # The port file may be written just before listen() on some builds: wait until it answers.
        wait_for(lambda: self.stats() is not None, READY_TIMEOUT, what="mock-upstream /_stats")

    def base_url(self, endpoint):
        return f"http://127.0.0.1:{self.port}/{endpoint}/v1"

    def stats(self):
        r = request(self.port, "GET", "/_stats")
        if r.status != 200:
            raise AssertionError(f"mock /_stats: {r}")
        return r.json()

    def endpoint_stats(self, endpoint):
        return self.stats().get("endpoints", {}).get(endpoint, {})

    def requests_to(self, endpoint):
        return self.endpoint_stats(endpoint).get("requests", 0)

    def reset_stats(self):
        r = request(self.port, "POST", "/_stats/reset", body=b"")
        if r.status // 100 != 2:
            raise AssertionError(f"mock /_stats/reset: {r}")

    def control(self, endpoint, faults):
        r = request(self.port, "POST", f"/_control/{endpoint}", body=faults)
        if r.status // 100 != 2:
            raise AssertionError(f"mock /_control/{endpoint}: {r}")

    def direct(self, endpoint, path, body, method="POST", headers=None):
        """The same request straight to the mock (what the router must pass through)."""
        h = {"Content-Type": "application/json", "Authorization": f"Bearer {PRIMARY_KEY}"}
        h.update(headers or {})
        return request(self.port, method, f"/{endpoint}/v1{path}", body=body, headers=h)


def use_http_client(policy_path):
    """SWITCHYARD_TEST_HTTP_CLIENT=curl (meson's `-curl` runs of some modules): the
    policy's server block gets `http_client: curl`, so the same tests go through
    libcurl instead of the built-in HTTP/1.1 client. Block-style `server:` only."""
    client = os.environ.get("SWITCHYARD_TEST_HTTP_CLIENT")
    if not client or not os.path.isfile(policy_path):
        return
    with open(policy_path) as f:
        lines = f.read().split("\n")
    if "server:" in lines:
        lines.insert(lines.index("server:") + 1, f"  http_client: {client}")
    elif not any(l.startswith("server") for l in lines):
        lines += ["server:", f"  http_client: {client}", ""]
    else:
        return
    with open(policy_path, "w") as f:
        f.write("\n".join(lines))


class Router(Proc):
    """switchyard serve on a free port, started and waited for until /readyz is 200."""

    def __init__(self, workdir, policy_path, extra_args=(), env_extra=None, name="router",
                 cwd=None, wait_ready=True, workers=1):
        self.port = free_port()
        self.policy_path = policy_path
        use_http_client(policy_path)
        argv = [switchyard_bin(), "serve", "-c", policy_path,
                "--listen", f"127.0.0.1:{self.port}", "--workers", str(workers)]
        argv += list(extra_args)
        env = dict(os.environ)
        env.update(SECRET_ENV)
        env.update(env_extra or {})
        super().__init__(name, argv, workdir, env=env, cwd=cwd or workdir)
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"switchyard exited ({self.p.poll()}) before it was ready; "
                                     f"stderr:\n{self.stderr()[-4000:]}")
            try:
                r = request(self.port, "GET", "/readyz", timeout=1.0)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.03)
        raise AssertionError(f"switchyard not ready after {timeout}s (last: {last!r}); "
                             f"stderr:\n{self.stderr()[-4000:]}")

    def get(self, path, headers=None, timeout=NET_TIMEOUT):
        return request(self.port, "GET", path, headers=headers, timeout=timeout)

    def post(self, path, body, headers=None, timeout=NET_TIMEOUT):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return request(self.port, "POST", path, body=body, headers=h, timeout=timeout)

    def chat(self, body=None, headers=None, timeout=NET_TIMEOUT):
        return self.post("/v1/chat/completions", body if body is not None else chat_body(),
                         headers=headers, timeout=timeout)


# ---------------------------------------------------------------------------
# Policies

# Secrets go into policies as ${VAR} (as spec.md recommends); the router gets the values in its
# environment. Every secret a test used so far is registered here.
SECRET_ENV = {}


def secret_ref(value):
    """'${SY_T_<hash>}' for value, registered so that routers started from now on see it."""
    name = "SY_T_" + hashlib.sha1(value.encode()).hexdigest()[:12].upper()
    SECRET_ENV[name] = value
    return "${" + name + "}"


def policy_yaml(mock_port, *, endpoints=("r1", "r2"), client_keys=None, admin_key=ADMIN_KEY,
                max_body=None, access_log=None, primary_key=PRIMARY_KEY, canary=True,
                percent=0, canary_endpoints=("hs1",), max_attempts=3, retry_on=None,
                failure_threshold=1000, fallback_to_stable=True, request_timeout="10s",
                server_extra=None, extra=""):
    """A policy for tests: provider `primary` (plugin openai, one endpoint per name in
    endpoints, by priority in that order) as stable and `relay` (plugin holysheep, explicit
    base_url) as canary at `percent`. Backoff is short so retries keep tests fast."""
    lines = ["version: 1", "server:", "  listen: 127.0.0.1:1",
             f"  request_timeout: {request_timeout}"]
    if client_keys is not None:
        lines.append(f"  client_keys: {secret_ref(client_keys)}")
    if admin_key is not None:
        lines.append(f"  admin_key: {secret_ref(admin_key)}")
    if max_body is not None:
        lines.append(f"  max_body: {max_body}")
    if access_log is not None:
        lines.append(f"  access_log: \"{access_log}\"")
    for k, v in (server_extra or {}).items():
        lines.append(f"  {k}: {v}")
    lines += ["providers:", "  primary:", "    plugin: openai", f"    api_key: {secret_ref(primary_key)}",
              "    endpoints:"]
    for i, ep in enumerate(endpoints):
        lines.append(f"      - {{name: {ep}, base_url: \"http://127.0.0.1:{mock_port}/{ep}/v1\", "
                     f"priority: {i + 1}}}")
    if canary:
        lines += ["  relay:", "    plugin: holysheep", f"    api_key: {secret_ref(RELAY_KEY)}", "    endpoints:"]
        for i, ep in enumerate(canary_endpoints):
            lines.append(f"      - {{name: {ep}, base_url: \"http://127.0.0.1:{mock_port}/{ep}/v1\", "
                         f"priority: {i + 1}}}")
    on = retry_on or ["connect_error", "timeout", 429, 500, 502, 503, 504]
    lines += ["retry:", f"  max_attempts: {max_attempts}",
              "  on: [" + ", ".join(str(x) for x in on) + "]",
              "  backoff: {base: 5ms, max: 20ms, jitter: none}",
              "  budget: {ratio: 1.0, min_per_second: 1000}",
              "breaker:", f"  failure_threshold: {failure_threshold}",
              "  success_threshold: 1", "  open_for: 1s", "  half_open_max_calls: 1",
              "models:", "  fallbacks:", "    gpt-4.1: [gpt-4o-mini]",
              "  prices:", "    gpt-4.1: {input: 2.00, output: 8.00}",
              "    gpt-4o-mini: {input: 0.15, output: 0.60}",
              "migration:", "  stable: primary"]
    if canary:
        lines += ["  canary: relay", "  rollout:", "    id: integ-rollout", f"    percent: {percent}",
                  "    sticky_by: [header:x-user-id, body:user]"]
    lines.append(f"  fallback_to_stable: {'true' if fallback_to_stable else 'false'}")
    text = "\n".join(lines) + "\n"
    if extra:
        text += extra
    return text


# ---------------------------------------------------------------------------
# Test base class

class IntegrationCase(unittest.TestCase):
    """Gives each test a temp dir, starts what it asks for, kills everything at the end and
    prints the logs of every process when the test failed."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="sy-integ-")
        self.procs = []
        self.sockets = []

    def tearDown(self):
        # Stop gracefully so that sanitizer builds report leaks and errors at exit, then
        # make sure nothing is left running whatever happened.
        for sock in self.sockets:  # close client sockets first: they must not hold the drain up
            try:
                sock.close()
            except OSError:
                pass
        problems = []
        for p in reversed(self.procs):
            was_alive = p.alive()
            if was_alive:
                p.signal(signal.SIGTERM)
                code = p.wait(STOP_TIMEOUT)
                if code is None:
                    problems.append(f"{p.name} did not exit within {STOP_TIMEOUT}s of SIGTERM")
                elif code != 0 and isinstance(p, Router):
                    problems.append(f"{p.name} exited {code} after SIGTERM")
            elif isinstance(p, Router) and p.p.returncode is not None and p.p.returncode < 0:
                problems.append(f"{p.name} died of signal {-p.p.returncode}")
            p.kill()
            bad = sanitizer_report(p.stderr())
            if bad:
                problems.append(f"{p.name}: sanitizer report: {bad}")
        if problems:
            self.fail("; ".join(problems))

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        failed = len(result.failures) + len(result.errors) > before
        procs = getattr(self, "procs", [])
        for p in procs:  # already killed in tearDown; kill again in case setUp failed half-way
            p.kill()
        if failed:
            for p in procs:
                try:
                    sys.stderr.write(p.logs())
                except OSError:
                    pass
            sys.stderr.flush()
        wd = getattr(self, "workdir", None)
        if wd:
            shutil.rmtree(wd, ignore_errors=True)
        return result

    # helpers -------------------------------------------------------------
    def connect(self, port, timeout=NET_TIMEOUT):
        """A raw socket to port and a buffered reader on it; both closed at teardown."""
        sock = raw_connect(port, timeout)
        f = sock.makefile("rb")
        self.sockets += [f, sock]
        return sock, f

    def path(self, name):
        return os.path.join(self.workdir, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(p + ".tmp", p)  # atomic, so a reload never reads half a file
        return p

    def start_mock(self, **kw):
        m = Mock(self.workdir, **kw)
        self.procs.append(m)
        m.wait_ready()
        return m

    def start_router(self, policy_text=None, policy_path=None, **kw):
        if policy_path is None:
            policy_path = self.write("policy.yaml", policy_text)
        wait_ready = kw.pop("wait_ready", True)
        r = Router(self.workdir, policy_path, wait_ready=False, **kw)
        self.procs.append(r)
        if wait_ready:
            r.wait_ready()
        return r

    def start_pair(self, mock_kw=None, **policy_kw):
        """A mock upstream and a router with policy_yaml(mock.port, **policy_kw)."""
        mock = self.start_mock(**(mock_kw or {}))
        router = self.start_router(policy_yaml(mock.port, **policy_kw))
        return mock, router

    def assertErrorEnvelope(self, resp, statuses):
        if isinstance(statuses, int):
            statuses = (statuses,)
        self.assertIn(resp.status, statuses, resp)
        try:
            doc = resp.json()
        except ValueError:
            self.fail(f"error body is not JSON: {resp!r}")
        self.assertIsInstance(doc, dict, resp)
        self.assertIn("error", doc, resp)
        err = doc["error"]
        self.assertIsInstance(err, dict, resp)
        for k in ("message", "type", "code"):
            self.assertIn(k, err, resp)
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"], resp)
        return err


def in_thread(fn, *args, **kw):
    """Run fn in a thread; returns a handle with .join(timeout) -> (result, exception)."""
    box = {}

    def run():
        try:
            box["result"] = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["exc"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()

    class Handle:
        def join(self, timeout):
            t.join(timeout)
            if t.is_alive():
                raise AssertionError(f"background request still running after {timeout}s")
            if "exc" in box:
                raise box["exc"]
            return box.get("result")
    return Handle()


def main():
    signal.signal(signal.SIGTERM, _on_sigterm)
    unittest.main(verbosity=2)
