"""CPython's test_importlib is the parity yardstick on 3.11 and later; its
layout (and the classes this package specializes) differ before, so the
package is not collected there."""

import sys

collect_ignore_glob = ["test_*.py"] if sys.version_info < (3, 11) else []
