# SPDX-License-Identifier: MIT
# The bench journal, shared by bench/journal.py and bench/replay.py: N entries
# from gen-journal.py made into real journal files by systemd-journal-remote,
# once, under build/bench/journal-N (kept for the next run).
import os, subprocess, sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def journal_files(n):
    """The folder and its sorted *.journal files, written first when missing."""
    work = os.path.join(top, "build", "bench", f"journal-{n}")
    os.makedirs(work, exist_ok=True)
    files = sorted(os.path.join(work, f) for f in os.listdir(work) if f.endswith(".journal"))
    if files:
        return work, files
    print(f"bench: writing {n} entries with systemd-journal-remote (about {n // 20000 + 1} s)...",
          flush=True)
    export = os.path.join(work, "in.export")
    with open(export, "wb") as out:
        subprocess.run([sys.executable, os.path.join(top, "bench", "gen-journal.py"), str(n)],
                       stdout=out, check=True)
    subprocess.run(["/lib/systemd/systemd-journal-remote", "-o",
                    os.path.join(work, "bench.journal"), export],
                   check=True, stderr=subprocess.DEVNULL)
    os.unlink(export)
    return work, sorted(os.path.join(work, f) for f in os.listdir(work)
                        if f.endswith(".journal"))
