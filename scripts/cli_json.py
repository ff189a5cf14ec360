"""The `distill` program from the bench and demo scripts: each subcommand
ends with one JSON line on stdout, the summary these scripts read."""
import json
import subprocess
import sys


def run(binary, who, *args, echo=False):
    """`binary args...`: its last stdout line as JSON.  Its stderr (the
    progress and messages) passes through on failure, or always with echo;
    a failure ends the calling script, named `who`."""
    res = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
    if echo or res.returncode != 0:
        sys.stderr.write(res.stderr)
    if res.returncode != 0:
        raise SystemExit(f"{who}: distill {args[0]} failed")
    return json.loads(res.stdout.strip().splitlines()[-1])


def pooled(*sds):
    """The pooled standard deviation of arms measured over the same seeds."""
    return (sum(x ** 2 for x in sds) / len(sds)) ** 0.5
