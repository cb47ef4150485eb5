# SPDX-License-Identifier: MIT
"""The API checks run by test_api.sh against a live daemon: every endpoint,
auth, errors, limits, hostile requests. Prints "N passed, N failed"."""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

ap = argparse.ArgumentParser()
for a in ("url", "token-file", "tmp", "bin", "conf", "pid", "namespace"):
    ap.add_argument("--" + a, required=True)
args = ap.parse_args()
host, port = args.url.split("//")[1].split(":")
port = int(port)
token = open(args.token_file).read().strip()
tmp = args.tmp
passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (what, detail), file=sys.stderr)


def req(method, path, body=None, headers=None, auth=True, ctype="application/json"):
    h = {} if headers is None else dict(headers)
    if auth:
        h.setdefault("Authorization", "Bearer " + token)
    if body is not None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if ctype:
            h.setdefault("Content-Type", ctype)
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    return r.status, j, r.headers, data


def db(sql):
    c = sqlite3.connect("file:%s/state/healer.db?mode=ro" % tmp, uri=True, timeout=5)
    rows = c.execute(sql).fetchall()
    c.close()
    return rows


def jsend(fields):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(("\n".join("%s=%s" % kv for kv in fields.items()) + "\n").encode(),
             "/run/systemd/journal.%s/socket" % args.namespace)
    s.close()


def attempt(aid):
    st, j, _, _ = req("GET", "/api/auto-healer/attempts/%d" % aid)
    return j["attempt"] if st == 200 else None


def wait_attempt(aid, states, secs=20):
    end = time.time() + secs
    a = None
    while time.time() < end:
        a = attempt(aid)
        if a and a["status"] in states:
            return a
        time.sleep(0.1)
    return a


def counts():
    return db("SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM attempts),"
              " (SELECT count(*) FROM audit)")[0]


# ---- open endpoints ----
st, j, h, _ = req("GET", "/healthz", auth=False)
check("healthz open", st == 200 and j["status"] == "success", st)
st, j, h, data = req("GET", "/metrics", auth=False)
check("metrics open, Prometheus text", st == 200 and h["Content-Type"].startswith("text/plain")
      and b"# TYPE healer_api_requests_total counter" in data, st)

# ---- auth ----
for what, hdr in (("no token", {}), ("wrong token", {"Authorization": "Bearer " + "0" * 64}),
                  ("short token", {"Authorization": "Bearer " + token[:16]}),
                  ("token with a suffix", {"Authorization": "Bearer " + token + "x"}),
                  ("empty bearer", {"Authorization": "Bearer "}),
                  ("basic auth", {"Authorization": "Basic " + token})):
    st, j, h, _ = req("GET", "/api/auto-healer/status", headers=hdr, auth=False)
    check("401 for " + what, st == 401 and j["status"] == "error" and "token" in j["error"]
          and "Bearer" in h.get("WWW-Authenticate", ""), st)
st, j, _, _ = req("POST", "/api/auto-healer/disable", auth=False)
check("write without token 401", st == 401, st)
st, j, _, _ = req("GET", "/api/auto-healer/status", headers={"Authorization": "bearer " + token},
                  auth=False)
check("scheme is case-insensitive", st == 200, st)

# ---- status ----
st, j, _, _ = req("GET", "/api/auto-healer/status")
ah = j and j.get("auto_healer") or {}
check("status shape", st == 200 and j["status"] == "success" and all(
    k in ah for k in ("enabled", "auto_execute", "monitoring", "max_attempts", "provider",
                      "model", "journal", "circuit", "uptime_seconds", "version"))
      and all(k in ah["journal"] for k in ("source", "cursor", "lag_seconds")), j)
check("status values", ah.get("enabled") is True and ah.get("provider") == "rules"
      and ah.get("circuit") == "closed" and ah.get("monitoring") is True
      and ah["journal"]["source"] == "namespace:" + args.namespace, ah)

# ---- Host (DNS rebinding) ----
st, j, _, _ = req("GET", "/api/auto-healer/status", headers={"Host": "evil.example:%d" % port})
check("foreign Host refused", st == 421 and "Host" in j["error"], st)
st, j, _, _ = req("GET", "/healthz", headers={"Host": "evil.example"}, auth=False)
check("foreign Host refused on open endpoints too", st == 421, st)
st, _, _, _ = req("GET", "/api/auto-healer/status", headers={"Host": "localhost:%d" % port})
check("localhost Host accepted", st == 200, st)
st, _, _, _ = req("GET", "/api/auto-healer/status", headers={"Host": "localhost:1%d" % port})
check("localhost with another port refused", st == 421, st)
s = socket.create_connection((host, port))
s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
raw = s.recv(4096)
s.close()
check("no Host refused", b" 421 " in raw.split(b"\r\n")[0] or b" 400 " in raw.split(b"\r\n")[0],
      raw[:60])

# ---- dispatcher ----
st, j, _, _ = req("GET", "/api/nope")
check("unknown path 404 JSON", st == 404 and j["status"] == "error", st)
st, j, h, _ = req("DELETE", "/api/whitelist")
check("wrong method 405 with Allow", st == 405 and "GET" in h.get("Allow", "")
      and "PUT" in h.get("Allow", ""), (st, h.get("Allow")))
st, j, h, _ = req("GET", "/api/auto-healer/heal")
check("GET on a POST path 405", st == 405 and h.get("Allow") == "POST", st)
st, _, _, _ = req("GET", "/api/auto-healer/attempts/abc")
check("non-numeric id 404", st == 404, st)
st, _, _, _ = req("GET", "/api/auto-healer/attempts/99999")
check("missing attempt 404", st == 404, st)
st, _, _, _ = req("GET", "/api/auto-healer/status/")
check("trailing slash is another path", st == 404, st)

# ---- history and statistics ----
for q, want in (("limit=0", 400), ("limit=501", 400), ("limit=-1", 400), ("limit=x", 400),
                ("offset=-5", 400), ("state=bogus", 400), ("limit=500", 200),
                ("state=healed&limit=5&offset=0", 200)):
    st, j, _, _ = req("GET", "/api/auto-healer/history?" + q)
    check("history %s -> %d" % (q, want), st == want, st)
st, j, _, _ = req("GET", "/api/auto-healer/statistics")
stats = j and j.get("statistics") or {}
check("statistics shape", st == 200 and all(k in stats for k in (
    "total_attempts", "successful", "failed", "pending", "rejected", "skipped", "success_rate",
    "mean_time_to_heal_ms", "llm_calls", "llm_cache_hits", "by_action")), stats)

# ---- malformed and hostile bodies: 4xx and nothing changes ----
before = counts()
bad_bodies = [
    ("not JSON", b"{nope", 400),
    ("a JSON array", b"[1,2]", 400),
    ("message a number", {"message": 5}, 400),
    ("no message", {"service": "x"}, 400),
    ("empty message", {"message": ""}, 400),
    ("service not a unit name", {"message": "m", "service": "a b/c"}, 400),
    ("service an object", {"message": "m", "service": {}}, 400),
    ("level out of range", {"message": "m", "level": 9}, 400),
    ("level unknown name", {"message": "m", "level": "loud"}, 400),
    ("timestamp in ms", {"message": "m", "timestamp": 1700000000000}, 400),
    ("timestamp junk", {"message": "m", "timestamp": "yesterday"}, 400),
    ("message too long", {"message": "x" * 5000}, 400),
    ("deep nesting", b"[" * 60000 + b"]" * 4000, 400),
    ("NUL inside", b'{"message":"a\\u0000b"}', 400),
]
for what, body, want in bad_bodies:
    st, j, _, _ = req("POST", "/api/auto-healer/heal", body=body)
    check("heal: %s -> %d" % (what, want), st == want and j and j["status"] == "error", (st, j))
# 10 MB announced: refused before the body is read, and the link closed.
s = socket.create_connection((host, port))
s.sendall(b"POST /api/auto-healer/heal HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
          + token.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
          % (10 * 1024 * 1024) + b"{" + b" " * 65536)
s.settimeout(10)
raw = b""
try:
    while b"\r\n\r\n" not in raw:
        d = s.recv(4096)
        if not d:
            break
        raw += d
except (socket.timeout, ConnectionResetError):
    pass
s.close()
check("10 MB body 413", raw.startswith(b"HTTP/1.1 413"), raw[:40])
st, j, _, _ = req("POST", "/api/auto-healer/heal", body={"message": "m"}, ctype="text/plain")
check("wrong content type 415", st == 415, st)
st, j, _, _ = req("POST", "/api/auto-healer/heal", body=None)
check("no body 400", st == 400, st)
# A chunked body past the cap, without Content-Length.
c = http.client.HTTPConnection(host, port, timeout=30)
c.putrequest("POST", "/api/test/inject-error")
c.putheader("Authorization", "Bearer " + token)
c.putheader("Content-Type", "application/json")
c.putheader("Transfer-Encoding", "chunked")
c.endheaders()
try:
    for _ in range(80):
        chunk = b"x" * 1024
        c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    c.send(b"0\r\n\r\n")
    st = c.getresponse().status
except (BrokenPipeError, ConnectionResetError):
    st = 413
c.close()
check("chunked body past the cap 413", st == 413, st)
check("nothing recorded by refused requests", counts() == before, (before, counts()))

# ---- manual heal, waited for ----
st, j, _, _ = req("POST", "/api/auto-healer/heal?wait=20",
                  body={"service": "demo", "message": "thing broke via api", "level": "error"})
res = j and j.get("healing_result") or {}
check("heal?wait answers with the finished attempt", st == 200 and res.get("status") == "healed"
      and res.get("provider") == "rules", (st, j))
check("the fix ran", os.path.exists(tmp + "/thing"))
# No cgroup for commands in this test: the limit the whitelist asked for could not hold.
check("a limit that could not be applied is on record",
      "memory_max" in ((res.get("actions") or [{}])[0].get("reason") or ""), res.get("actions"))
check("manual incident recorded as manual",
      db("SELECT source, unit FROM incidents WHERE message = 'thing broke via api'")
      == [("manual", "demo.service")])
st, j, _, _ = req("POST", "/api/auto-healer/heal?wait=121", body={"message": "m"})
check("wait over 120 refused", st == 400, st)

# ---- injection through the journal ----
os.unlink(tmp + "/thing")
st, j, _, _ = req("POST", "/api/test/inject-error",
                  body={"service": "demo", "message": "thing broke injected", "level": 3})
check("inject answers 202 via the journal", st == 202 and j.get("via") == "journal"
      and j.get("incident_id") and j.get("attempt_id"), (st, j))
a = wait_attempt(j["attempt_id"], ("healed", "failed", "rejected", "skipped")) if st == 202 else None
check("injected error healed", a and a["status"] == "healed", a)
check("history marks it injected", a and a["error"].get("source") == "injected", a and a["error"])
st, j2, _, _ = req("POST", "/api/test/inject-error",
                   body={"message": "thing broke direct", "source": "direct"})
check("inject source=direct", st == 202 and j2.get("via") == "direct", (st, j2))
st, j2, _, _ = req("POST", "/api/test/inject-error", body={"message": "m", "source": "mail"})
check("inject unknown source 400", st == 400, st)

# A local user forges the injection marker: it stays an ordinary journal line.
jsend({"PRIORITY": "3", "MESSAGE": "forged injection marker", "SYSLOG_IDENTIFIER": "evil",
       "HEALER_INJECTED": "1", "HEALER_INJECT_ID": "0" * 32, "HEALER_CLAIMED_UNIT": "sshd.service"})
end = time.time() + 10
rows = []
while time.time() < end and not rows:
    rows = db("SELECT source, unit FROM incidents WHERE message = 'forged injection marker'")
    time.sleep(0.1)
check("forged marker is an ordinary line", rows and rows[0][0] == "journal"
      and rows[0][1] != "sshd.service", rows)

# ---- enable / disable ----
st, j, _, _ = req("POST", "/api/auto-healer/disable")
check("disable", st == 200 and j["enabled"] is False, (st, j))
st, j, _, _ = req("GET", "/api/auto-healer/status")
check("status shows disabled", j["auto_healer"]["enabled"] is False)
st, j, _, _ = req("POST", "/api/auto-healer/heal", body={"message": "thing broke while off"})
check("heal while disabled is skipped", st == 202 and j["healing_result"]["status"] == "skipped"
      and "disabled" in j["healing_result"]["reason"], j)
st, j, _, _ = req("POST", "/api/auto-healer/enable")
check("enable", st == 200 and j["enabled"] is True)
check("audit holds enable and disable", db(
    "SELECT what FROM audit WHERE what IN ('enable','disable') ORDER BY id") ==
    [("disable",), ("enable",)])

# ---- approvals ----
st, j, _, _ = req("POST", "/api/auto-healer/attempts/99999/approve")
check("approve a missing attempt 404", st == 404, st)
healed_id = db("SELECT id FROM attempts WHERE state = 'healed' LIMIT 1")[0][0]
st, j, _, _ = req("POST", "/api/auto-healer/attempts/%d/reject" % healed_id)
check("reject a finished attempt 409", st == 409, st)

# ---- whitelist ----
wl_path = tmp + "/whitelist.conf"
st, j, h, _ = req("GET", "/api/whitelist")
etag = j and j.get("etag")
check("whitelist get", st == 200 and j["text"] == open(wl_path).read() and etag
      and h.get("ETag") == etag and [a["name"] for a in j["actions"]] ==
      ["fix_thing", "note"], (st, j and j.get("actions")))
original = open(wl_path).read()
st, j, _, _ = req("PUT", "/api/whitelist", body=original + "\n# edit\n", ctype="text/plain")
check("put without If-Match 428", st == 428, st)
st, j, _, _ = req("PUT", "/api/whitelist", body=original + "\n# edit\n", ctype="text/plain",
                  headers={"If-Match": '"0000"'})
check("put with a stale etag 412", st == 412, st)
broken = original + "\n[action bad]\nexec = relative/path\n"
st, j, _, _ = req("PUT", "/api/whitelist", body=broken, ctype="text/plain",
                  headers={"If-Match": etag})
errs = j and j.get("errors") or []
check("invalid whitelist 400 with line errors", st == 400 and errs and all(
    isinstance(e["line"], int) and e["line"] > 0 and e["message"] for e in errs), (st, j))
check("file unchanged after a refused put", open(wl_path).read() == original)
st, j, _, _ = req("PUT", "/api/whitelist", body=original, ctype="application/json",
                  headers={"If-Match": etag})
check("put needs text/plain 415", st == 415, st)
edited = original + "\n[action noop]\ndescription = does nothing\nmatch = noop\nexec = /bin/true\n"
results = []


def put():
    results.append(req("PUT", "/api/whitelist", body=edited, ctype="text/plain",
                       headers={"If-Match": etag})[0])


ts = [threading.Thread(target=put) for _ in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
check("concurrent puts with one etag: one wins", sorted(results) == [200, 412, 412, 412], results)
check("file is the new text", open(wl_path).read() == edited)
check("backup kept", open(wl_path + ".bak").read() == original)
check("no temp files left", not [f for f in os.listdir(tmp) if ".tmp." in f])
st, j, _, _ = req("GET", "/api/whitelist")
check("new whitelist live at once", st == 200 and "noop" in [a["name"] for a in j["actions"]]
      and j["etag"] != etag, j and j.get("actions"))
check("whitelist edit audited", db("SELECT count(*) FROM audit WHERE what = 'whitelist'")
      == [(1,)])

# ---- whitelist test ----
if os.path.exists(tmp + "/thing"):
    os.unlink(tmp + "/thing")
st, j, _, _ = req("POST", "/api/whitelist/test", body={"command": "fixthing"})
check("whitelist test accepts a command", st == 200 and j["verdict"] == "accept"
      and j["commands"][0]["action"] == "fix_thing" and j["commands"][0]["requires"], j)
pre = j and j["commands"] and j["commands"][0].get("preconditions") or []
check("whitelist test judges the preconditions now", len(pre) == 1 and pre[0]["holds"] is True
      and pre[0]["now"] == "holds" and pre[0]["check"].startswith("command"), pre)
open(tmp + "/thing", "w").close()
st, j, _, _ = req("POST", "/api/whitelist/test", body={"command": "fixthing"})
pre = j and j["commands"] and j["commands"][0].get("preconditions") or []
check("a precondition that does not hold says so", pre and pre[0]["holds"] is False
      and pre[0]["now"] == "fails", pre)
os.unlink(tmp + "/thing")
st, j, _, _ = req("POST", "/api/whitelist/test", body={"command": "rm -rf /"})
check("whitelist test refuses", st == 200 and j["verdict"] == "reject", j)
st, j, _, _ = req("POST", "/api/whitelist/test",
                  body={"reply": '{"actions":[{"action":"fix_thing","args":{}}]}'})
check("whitelist test takes a reply", st == 200 and "verdict" in j, (st, j))
st, j, _, _ = req("POST", "/api/whitelist/test", body={"command": "x", "reply": "y"})
check("whitelist test wants one of command/reply", st == 400, st)

# ---- slow clients: the loop keeps serving ----
slow = []
for _ in range(20):
    s = socket.create_connection((host, port))
    s.sendall(b"GET /api/auto-healer/status HTTP/1.1\r\nHost: localhost\r\n")
    slow.append(s)
t0 = time.time()
st, _, _, _ = req("GET", "/api/auto-healer/status")
check("served while 20 clients stall", st == 200 and time.time() - t0 < 2, st)
for s in slow:
    s.settimeout(20)
t0 = time.time()
closed = 0
for s in slow:
    try:
        if s.recv(1) == b"":
            closed += 1
    except (socket.timeout, ConnectionResetError):
        closed += 1 if not isinstance(sys.exc_info()[1], socket.timeout) else 0
    s.close()
check("stalled clients cut off by the timeout", closed == 20 and time.time() - t0 < 20,
      (closed, time.time() - t0))

# ---- metrics after all that ----
st, _, _, data = req("GET", "/metrics", auth=False)
text = data.decode()
check("metrics count API replies", 'healer_api_requests_total{code="401"}' in text
      and 'healer_api_requests_total{code="200"}' in text, text[:300])
promtool = os.environ.get("HEALER_PROMTOOL") or (
    "build/tools/promtool" if os.path.exists("build/tools/promtool") else shutil.which("promtool"))
if promtool:
    p = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True)
    check("promtool accepts /metrics", p.returncode == 0, p.stdout + p.stderr)
else:
    check("promtool present (tools/deps.sh --test installs it)", False)

st, j, _, _ = req("GET", "/healthz", auth=False)
check("still healthy", st == 200)
print("%d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
