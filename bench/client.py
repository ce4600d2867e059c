#!/usr/bin/env python3
"""bench/client.py - small HTTP/1.1 clients for what wrk does not measure.

  client.py load URL BODY [--requests N] [--conns K] [--users U] [--header 'N: v']...
      N requests (keep-alive, K connections, one request in flight on each),
      every answer checked for 200 and read whole (Content-Length or chunked).
      Used by bench/profile.sh, where the proxy runs under callgrind.
  client.py first-chunk URL BODY [--requests N] [--header ...]
      N streamed requests one after the other on one keep-alive connection;
      prints the p50/p90/p99 time from sending the request to the first byte
      of the first "data:" event, and to the end of the answer, in µs.
  client.py hold URL BODY [--streams N] [--batch B] [--hold-file F] [--header ...]
      opens N connections, sends a streamed request on each, waits until every
      one has received its first event, prints "READY n" and holds them open
      until F exists (or stdin closes when no F), then closes them all.
  client.py paced URL BODY [--requests N] [--warmup W] [--events E] [--save F]
                           [--reference F] [--header ...]
      N streamed requests one after the other on one keep-alive connection, for
      an upstream that pauses between content events (mock-upstream
      --chunk-delay-ms); records when each SSE event arrived (the read that
      completed it), as µs after the request was sent, one line per answer in F.
      Prints the p50/p99/max gap between consecutive content events (from one
      event to the next that is not [DONE]: the mock sends [DONE] right after
      the last content event), the p50 time to the first and to the last event
      and, with --reference (the F of a run without a proxy), how much later
      than the reference's median arrival of the same event each event came:
      p50, p99 and max. Every answer must have E events.

Every request carries Content-Type: application/json and the bench's client key
(Authorization: Bearer sk-bench-client), as bench/chat.lua sends; --users U adds
x-user-id: u1..uU in turn.
"""
import argparse
import os
import selectors
import socket
import sys
import time
from urllib.parse import urlsplit


def parse_url(url):
    u = urlsplit(url)
    return u.hostname, u.port or 80, (u.path or "/") + ("?" + u.query if u.query else "")


def request_bytes(host, port, path, body, headers, user=None):
    lines = ["POST %s HTTP/1.1" % path, "Host: %s:%d" % (host, port),
             "Content-Type: application/json", "Authorization: Bearer sk-bench-client",
             "Content-Length: %d" % len(body)]
    lines += headers
    if user is not None:
        lines.append("x-user-id: u%d" % user)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Answer:
    """Incremental HTTP/1.1 response reader (one answer at a time)."""

    def __init__(self):
        self.buf = b""
        self.reset()

    def reset(self):
        self.status = None
        self.head_done = False
        self.length = None      # Content-Length, or None for chunked
        self.chunked = False
        self.body_len = 0       # decoded body bytes so far
        self.body_seen = b""    # their first bytes
        self.first_data_at = None
        self.done = False
        self.chunk_left = 0
        self.chunk_state = "size"

    def feed(self, data, now):
        """Add bytes; returns the bytes left over once an answer is complete."""
        self.buf += data
        if not self.head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return b""
            head = self.buf[:end].decode("latin-1").split("\r\n")
            self.status = int(head[0].split()[1])
            for h in head[1:]:
                name, _, value = h.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    self.length = int(value.strip())
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
            self.head_done = True
            self.buf = self.buf[end + 4:]
        if not self.chunked:
            need = (self.length or 0) - self.body_len
            take, self.buf = self.buf[:need], self.buf[need:]
            self._body(take, now)
            if self.body_len >= (self.length or 0):
                self.done = True
            return self.buf if self.done else b""
        while self.buf and not self.done:
            if self.chunk_state == "size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return b""
                self.chunk_left = int(self.buf[:end].split(b";")[0], 16)
                self.buf = self.buf[end + 2:]
                self.chunk_state = "data" if self.chunk_left else "trailer"
            elif self.chunk_state == "data":
                take = self.buf[:self.chunk_left]
                self.buf = self.buf[len(take):]
                self.chunk_left -= len(take)
                self._body(take, now)
                if not self.chunk_left:
                    self.chunk_state = "crlf"
            elif self.chunk_state == "crlf":
                if len(self.buf) < 2:
                    return b""
                self.buf = self.buf[2:]
                self.chunk_state = "size"
            else:  # trailer: an empty line ends the answer
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return b""
                line, self.buf = self.buf[:end], self.buf[end + 2:]
                if not line:
                    self.done = True
        return self.buf if self.done else b""

    def _body(self, data, now):
        if not data:
            return
        self.body_len += len(data)
        if len(self.body_seen) < 64:
            self.body_seen += data[:64]
        if self.first_data_at is None and b"data:" in self.body_seen:
            self.first_data_at = now


def connect(host, port):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def cmd_load(a, body):
    host, port, path = parse_url(a.url)
    sel = selectors.DefaultSelector()
    sent = done = 0
    user = 0
    conns = []

    def send(s, ans):
        nonlocal sent, user
        user = user % a.users + 1 if a.users else None
        s.sendall(request_bytes(host, port, path, body, a.header, user))
        ans.reset()
        sent += 1

    for _ in range(min(a.conns, a.requests)):
        s = connect(host, port)
        ans = Answer()
        conns.append(s)
        sel.register(s, selectors.EVENT_READ, ans)
        send(s, ans)
    bad = 0
    while done < a.requests:
        for key, _ in sel.select(timeout=30):
            s, ans = key.fileobj, key.data
            data = s.recv(65536)
            if not data:
                sys.exit("client: the server closed a connection")
            rest = ans.feed(data, 0)
            while ans.done:
                done += 1
                if ans.status != 200:
                    bad += 1
                    if bad <= 3:
                        print("client: status %s" % ans.status, file=sys.stderr)
                if sent < a.requests:
                    send(s, ans)
                    ans.buf = b""
                    rest = ans.feed(rest, 0) if rest else b""
                else:
                    break
    for s in conns:
        s.close()
    print("requests=%d non200=%d" % (done, bad))
    return 1 if bad else 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def cmd_first_chunk(a, body):
    host, port, path = parse_url(a.url)
    s = connect(host, port)
    first, whole = [], []
    req = request_bytes(host, port, path, body, a.header)
    for i in range(a.requests + a.warmup):
        ans = Answer()
        t0 = time.perf_counter_ns()
        s.sendall(req)
        while not ans.done:
            data = s.recv(65536)
            if not data:
                sys.exit("client: the server closed the connection")
            ans.feed(data, time.perf_counter_ns())
        t1 = time.perf_counter_ns()
        if ans.status != 200 or ans.first_data_at is None:
            sys.exit("client: status %s, no data event" % ans.status)
        if i >= a.warmup:
            first.append((ans.first_data_at - t0) / 1000.0)
            whole.append((t1 - t0) / 1000.0)
    s.close()
    print("first_p50_us=%.1f first_p90_us=%.1f first_p99_us=%.1f whole_p50_us=%.1f requests=%d"
          % (pct(first, 50), pct(first, 90), pct(first, 99), pct(whole, 50), a.requests))
    return 0


class PacedAnswer(Answer):
    """An Answer that notes when each SSE event (ended by a blank line) arrived."""

    def reset(self):
        super().reset()
        self.events = []      # (arrival ns, is [DONE])
        self.pending = b""    # body bytes of the event not yet complete

    def _body(self, data, now):
        super()._body(data, now)
        self.pending = (self.pending + data).replace(b"\r\n", b"\n")
        while True:
            end = self.pending.find(b"\n\n")
            if end < 0:
                return
            event, self.pending = self.pending[:end], self.pending[end + 2:]
            if event.strip():
                self.events.append((now, event.strip() == b"data: [DONE]"))


def cmd_paced(a, body):
    host, port, path = parse_url(a.url)
    s = connect(host, port)
    s.settimeout(30)   # a proxy that never flushes an event fails the run, not hangs it
    req = request_bytes(host, port, path, body, a.header)
    offsets, gaps = [], []
    for i in range(a.requests + a.warmup):
        ans = PacedAnswer()
        t0 = time.perf_counter_ns()
        s.sendall(req)
        while not ans.done:
            try:
                data = s.recv(65536)
            except socket.timeout:
                sys.exit("client: no byte for 30 s (%d events so far)" % len(ans.events))
            if not data:
                sys.exit("client: the server closed the connection")
            ans.feed(data, time.perf_counter_ns())
        if ans.status != 200 or len(ans.events) != a.events:
            sys.exit("client: status %s, %d events (want %d)" % (ans.status, len(ans.events), a.events))
        if i < a.warmup:
            continue
        at = [(t - t0) / 1000.0 for t, _ in ans.events]
        offsets.append(at)
        gaps += [at[k + 1] - at[k] for k in range(len(at) - 1) if not ans.events[k + 1][1]]
    s.close()
    gaps = gaps or [0.0]   # one content event: no gap to measure
    if a.save:
        with open(a.save, "w") as f:
            for at in offsets:
                f.write(",".join("%.0f" % x for x in at) + "\n")
    out = "gap_p50_us=%.0f gap_p99_us=%.0f gap_max_us=%.0f first_p50_us=%.0f last_p50_us=%.0f" % (
        pct(gaps, 50), pct(gaps, 99), max(gaps), pct([at[0] for at in offsets], 50),
        pct([at[-1] for at in offsets], 50))
    if a.reference:
        ref = [[float(x) for x in l.split(",")] for l in open(a.reference) if l.strip()]
        median = [pct([r[k] for r in ref], 50) for k in range(a.events)]
        late = [at[k] - median[k] for at in offsets for k in range(a.events)]
        out += " late_p50_us=%.0f late_p99_us=%.0f late_max_us=%.0f" % (pct(late, 50), pct(late, 99), max(late))
    print(out + " requests=%d events=%d" % (len(offsets), a.events))
    return 0


def cmd_hold(a, body):
    host, port, path = parse_url(a.url)
    sel = selectors.DefaultSelector()
    req = request_bytes(host, port, path, body, a.header)
    socks = []
    streaming = 0
    t_start = time.monotonic()
    while len(socks) < a.streams:
        batch = []
        for _ in range(min(a.batch, a.streams - len(socks))):
            try:
                s = connect(host, port)
            except OSError as e:
                sys.exit("client: connect failed after %d streams: %s" % (len(socks), e))
            s.sendall(req)
            s.setblocking(False)
            ans = Answer()
            sel.register(s, selectors.EVENT_READ, ans)
            batch.append(s)
        socks += batch
        # Wait until this batch streams (its first event came) before the next.
        deadline = time.monotonic() + 30
        waiting = len(batch)
        while waiting and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                ans = key.data
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    sys.exit("client: a stream closed early (after %d streams)" % streaming)
                had = ans.first_data_at is not None
                ans.feed(data, 1)
                if ans.status is not None and ans.status != 200:
                    sys.exit("client: status %s" % ans.status)
                if not had and ans.first_data_at is not None:
                    streaming += 1
                    waiting -= 1
        if waiting:
            sys.exit("client: %d streams got no event within 30 s" % waiting)
    print("READY %d %.1f" % (streaming, time.monotonic() - t_start), flush=True)
    # Hold: keep reading (the upstream's slow events) until told to stop.
    while True:
        if a.hold_file and os.path.exists(a.hold_file):
            break
        for key, _ in sel.select(timeout=0.5):
            try:
                if not key.fileobj.recv(65536):
                    sys.exit("client: a stream ended while held")
            except BlockingIOError:
                pass
        if not a.hold_file and sys.stdin.closed:
            break
    for s in socks:
        s.close()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["load", "first-chunk", "hold", "paced"])
    p.add_argument("url")
    p.add_argument("body")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--streams", type=int, default=10000)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--hold-file")
    p.add_argument("--events", type=int, default=6, help="paced: SSE events per answer")
    p.add_argument("--save", help="paced: write every answer's event arrivals (µs) here")
    p.add_argument("--reference", help="paced: a --save file to measure lateness against")
    p.add_argument("--header", action="append", default=[])
    a = p.parse_args()
    body = open(a.body, "rb").read()
    fn = {"load": cmd_load, "first-chunk": cmd_first_chunk, "hold": cmd_hold, "paced": cmd_paced}[a.cmd]
    sys.exit(fn(a, body))


if __name__ == "__main__":
    main()
