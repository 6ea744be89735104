"""`python -m bench.child module:function JSON`: one benchmark side in a fresh process.

Prints the side's result as one JSON line, with this process's peak RSS added unless the side
measured another process (a server) and reported that one itself.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys


def main(argv: list[str]) -> None:
    target, arguments = argv
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(**json.loads(arguments))
    # Linux reports ru_maxrss in KiB.
    result.setdefault("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
