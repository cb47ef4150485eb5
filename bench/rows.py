# SPDX-License-Identifier: MIT
# One row of `make bench`'s closing table. Each benchmark prints its own
# report; when HEALER_BENCH_ROWS names a file (make bench sets it), it also
# appends its headline figures there as tab-separated rows:
#   measure, Healer's figure, the reference and its figure, ratio or goal.
# bench/table.py prints them as one table at the end of the run.
import os


def row(measure, healer, reference="", ratio=""):
    path = os.environ.get("HEALER_BENCH_ROWS")
    if not path:
        return
    cells = [str(c).replace("\t", " ").replace("\n", " ") for c in (measure, healer, reference, ratio)]
    with open(path, "a") as f:
        f.write("\t".join(cells) + "\n")
