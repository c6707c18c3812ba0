"""pynenc-14: ``pynenc monitor`` stores a phantom app ``pynenc`` in the app's storage.

pynenc 0.4.0's ``Pynenc.state_backend`` stores the app's info each time it builds a
state backend (``pynenc/app.py``, the ``state_backend`` property), and ``pynenc monitor``
without ``--app`` discovers the apps with ``Pynenc().state_backend.discover_app_infos()``
(``pynenc/cli/monitor_cli.py``): a default app, whose id is ``pynenc``, so its info is
stored first, and the monitor then lists it beside the real ones. (Pages of a real app
then overwrite its stored module with ``pynmon.app``: pynmon re-creates the app with
``Pynenc.from_info``, and pynenc's module search skips ``pynenc.*`` but not ``pynmon``.)
This script starts an app ``shop``, then discovers the apps as the monitor does:

    python scenarios/reproductions/monitor_phantom_app.py [builtin|ours]

Both pynenc's SQLite state backend (builtin) and pynenc-sqlite's (ours) list
``pynenc`` too: the defect is pynenc's. Exit 1 while it shows.
"""

import os
import sys
import tempfile

from pynenc import Pynenc
from pynenc.builder import PynencBuilder


def main(backend: str) -> int:
    path = f"{tempfile.mkdtemp()}/{backend}.sqlite3"
    builder = PynencBuilder().app_id("shop").logging_level("warning")
    shop = (builder.sqlite_stack(path) if backend == "ours" else builder.sqlite(path)).build()
    shop.state_backend.get_app_info()  # the app starts: pynenc stores its info
    # `pynenc monitor` configured for the same storage, as its environment gives it.
    os.environ["PYNENC__SQLITE_DB_PATH"] = path
    os.environ["PYNENC__STATE_BACKEND_CLS"] = type(shop.state_backend).__name__
    os.environ["PYNENC__LOGGING_LEVEL"] = "warning"
    apps = Pynenc().state_backend.discover_app_infos()
    print(f"{backend}: discovered {sorted(apps)}")
    for app_id, info in sorted(apps.items()):
        print(f"  {app_id}: module {info.module}")
    return 1 if "pynenc" in apps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "ours"))
