#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# make bench-analyze: the latency of one loopback LLM call. Starts
# tests/llm/fake_llm.py on 127.0.0.1, then, in the same run and alternating,
# N times `healer analyze` with provider gemini at that server and N times
# plain curl posting the very body healer sent to the same URL. Prints the
# median and p90 of the HTTP exchange as each measures it (healer's own
# latency_ms, curl's time_total) and of the whole process, and the ratios.
# Figures, not assertions: an exchange much slower than curl's means a timer
# with slack (sd-event reads accuracy 0 as 250 ms) or a wait in the loop.
import json, os, statistics, subprocess, sys, tempfile, time

sys.dont_write_bytecode = True  # nothing written into the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rows import row  # noqa: E402

healer = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/healer")
n = int(os.environ.get("BENCH_CALLS", "20"))
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "bench-key"
MESSAGE = "bind() to 0.0.0.0:80 failed (98: Address already in use)"


def p90(v):
    s = sorted(v)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


def start_server(tmp):
    port_file, log = os.path.join(tmp, "port"), os.path.join(tmp, "log")
    srv = subprocess.Popen([sys.executable, os.path.join(top, "tests", "llm", "fake_llm.py"),
                            "--port-file", port_file, "--log", log, "--key", KEY])
    for _ in range(200):
        if os.path.exists(port_file):
            with open(port_file) as f:
                return srv, int(f.read()), log
        time.sleep(0.025)
    srv.kill()
    sys.exit("bench: fake_llm.py did not start")


def timed(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return time.perf_counter() - t0, p


def main():
    with tempfile.TemporaryDirectory(prefix="healer-bench-") as tmp:
        srv, port, log = start_server(tmp)
        try:
            return bench(tmp, port, log)
        finally:
            srv.terminate()
            srv.wait()


def bench(tmp, port, log):
    base = f"http://127.0.0.1:{port}"
    conf = os.path.join(tmp, "healer.conf")
    with open(conf, "w") as f:
        f.write(f"[llm]\nprovider = gemini\nmodel = good\nbase_url = {base}\n"
                f"rules = {top}/examples/rules.conf\ntimeout = 10s\n")
    env = dict(os.environ, GEMINI_API_KEY=KEY)
    hcmd = [healer, "analyze", "-c", conf, "-w", os.path.join(top, "examples", "whitelist.conf"),
            "--unit", "nginx.service", "--message", MESSAGE, "--json"]
    # One call first: its body is what curl will post, and it warms the caches.
    _, p = timed(hcmd, env)
    if p.returncode != 0:
        sys.exit(f"bench: healer analyze failed: {p.stderr.decode(errors='replace')}")
    with open(log) as f:
        body = json.loads(f.read().splitlines()[-1])["body"]
    body_file = os.path.join(tmp, "body.json")
    with open(body_file, "w") as f:
        json.dump(body, f)
    url = f"{base}/v1beta/models/good:generateContent"
    ccmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
            "-H", f"x-goog-api-key: {KEY}", "-H", "Content-Type: application/json",
            "--data-binary", "@" + body_file, url]
    h_call, h_proc, c_call, c_proc = [], [], [], []
    for _ in range(n):  # alternate, so both see the same server state
        dt, p = timed(hcmd, env)
        j = json.loads(p.stdout)
        if p.returncode != 0 or j["fallback"] or len(j["calls"]) != 1:
            sys.exit(f"bench: healer analyze did not get a plan: {p.stdout[:300]!r}")
        h_call.append(j["calls"][0]["latency_ms"])
        h_proc.append(dt * 1000)
        dt, p = timed(ccmd)
        code, total = p.stdout.decode().split()
        if code != "200":
            sys.exit(f"bench: curl got HTTP {code}")
        c_call.append(float(total) * 1000)
        c_proc.append(dt * 1000)
    hm, cm = statistics.median(h_call), statistics.median(c_call)
    print(f"analyze: {n} loopback calls each, gemini format, {len(json.dumps(body))}-byte body")
    print(f"healer analyze  exchange {hm:7.2f} ms median {p90(h_call):7.2f} ms p90"
          f"   process {statistics.median(h_proc):7.2f} ms median {p90(h_proc):7.2f} ms p90")
    print(f"curl            exchange {cm:7.2f} ms median {p90(c_call):7.2f} ms p90"
          f"   process {statistics.median(c_proc):7.2f} ms median {p90(c_proc):7.2f} ms p90")
    print(f"ratio healer/curl: exchange {hm / cm:.2f}, process "
          f"{statistics.median(h_proc) / statistics.median(c_proc):.2f}")
    row("analyze, one loopback model call (median)", f"{hm:.2f} ms",
        f"curl, same body and server: {cm:.2f} ms", f"{hm / cm:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
