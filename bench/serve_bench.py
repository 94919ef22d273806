"""The measuring half of bench/serve_bench.sh: fills the sweep, starts
`sweep serve`, measures, prints one line per figure."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sweep_bin, sweep, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
trials = os.path.join(sweep, "trials")
with open(os.path.join(trials, "000000", "result.json")) as f:
    record = json.load(f)
with open(os.path.join(trials, "000000", "work", "metrics.csv")) as f:
    csv = f.read()


def publish(i, final):
    """trials/<i>/ with result.json and work/metrics.csv; `final`: by rename."""
    name = "%06d" % i
    tmp = os.path.join(sweep, "tmp", "bench-" + name) if final else os.path.join(trials, name)
    os.makedirs(os.path.join(tmp, "work"))
    r = dict(record, index=i, params={"a": str(i)})
    with open(os.path.join(tmp, "result.json"), "w") as f:
        json.dump(r, f)
    with open(os.path.join(tmp, "work", "metrics.csv"), "w") as f:
        f.write(csv)
    if final:
        os.rename(tmp, os.path.join(trials, name))


t = time.monotonic()
for i in range(20, points - 3):
    publish(i, False)
print("filled %d trials in %.1f s" % (points - 3 - 20, time.monotonic() - t), flush=True)

t0 = time.monotonic()
serve = subprocess.Popen([sweep_bin, "serve", sweep, "--poll", "0.5"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
line = serve.stdout.readline()
url = re.search(r"(http://\S+)", line).group(1)
print("startup (full read + first render): %.2f s" % (time.monotonic() - t0), flush=True)
base, token = url.split("/?token=")
hdr = {"Cookie": "claimsweep_token_%s=%s" % (base.rsplit(":", 1)[1], token)}


def view(etag=None):
    h = dict(hdr)
    if etag:
        h["If-None-Match"] = etag
    try:
        with urllib.request.urlopen(urllib.request.Request(base + "/api/view?sweep=0", headers=h)) as r:
            return r.status, r.headers.get("ETag"), r.read()
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return 304, etag, b""
        raise


t = time.monotonic()
status, etag, body = view()
print("one view: %.2f s, %.1f MiB of HTML" % (time.monotonic() - t, len(body) / 2**20), flush=True)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


time.sleep(2)
c0, w0 = cpu_seconds(serve.pid), time.monotonic()
time.sleep(20)
c1, w1 = cpu_seconds(serve.pid), time.monotonic()
print("idle CPU over %.0f s: %.2f%% of one core" % (w1 - w0, 100 * (c1 - c0) / (w1 - w0)), flush=True)

for i in range(points - 3, points):
    t0 = time.monotonic()
    publish(i, True)
    while True:
        status, new_etag, body = view(etag)
        if status == 200:
            break
        time.sleep(0.02)
    t1 = time.monotonic()
    etag = new_etag
    shown = b'data-state="done">done <b>%d</b>' % (i - (points - 3) + points - 2) in body
    print("change %d: new view after %.2f s (with its transfer); shows the new done count: %s"
          % (i, t1 - t0, shown), flush=True)

serve.terminate()
serve.wait()
