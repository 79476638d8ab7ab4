"""Runs a command and prints, after its own output, the CPU seconds it used
(user + system, from getrusage of the child) on a line `cpu_seconds N`.

Usage: python3 bench/cpu_of.py CMD [ARGS...]
"""

import resource
import subprocess
import sys

done = subprocess.run(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"cpu_seconds {r.ru_utime + r.ru_stime:.3f}", flush=True)
sys.exit(done.returncode)
