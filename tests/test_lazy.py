"""The write path loads on first use (PEP 562), in one piece."""

from __future__ import annotations

import subprocess
import sys

from .conftest import child_env

_SCRIPT = """
import sys
import modwrite

before = set(sys.modules)
modwrite.write_module  # the write path loads here
for name in set(sys.modules) - before:
    del sys.modules[name]  # as a test's restore of sys.modules would
settle_of_write = modwrite.write_module.__globals__["make_visible"].__globals__
batch_globals = modwrite.batch.__wrapped__.__globals__
assert batch_globals["_current_batch"] is settle_of_write["_current_batch"]
"""


def test_batch_and_write_module_come_from_one_import_of_the_write_path() -> None:
    """Loaded one name at a time, batch() came from a second import of the
    settle module after a restore of sys.modules, and did not see the writes
    of write_module(): each write in the batch waited for its own tick."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
