"""implan command line: parse, call one library function, print, map errors to exit codes.

Exit codes: 0 success; 1 no feasible plan, a failed gate (or `pricing validate --strict` found warnings); 2 bad
input; 3 a bug in implan (any unexpected exception, or errors.OutputError; IMPLAN_DEBUG=1 shows the traceback).

Layout: ``common`` holds the app, the shared options, output and error helpers and the solve-to-dict helper; one
module per command group (plan, bundle, gates, sweep, uncertainty, batch, report, pricing, workload) imports
``common`` and registers its commands on that app; ``entry`` imports them all and holds ``main()``, the console
script. No module imports one that imports it back (tests/test_imports.py).
"""

from planner.cli.entry import app, main

__all__ = ["app", "main"]
