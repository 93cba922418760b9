"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import keyword
import os

from hypothesis import settings
from hypothesis import strategies as st

#: CI runs a bounded number of examples; MODWRITE_HYPOTHESIS_EXAMPLES raises
#: it for a long run.  No deadline: filesystem timing varies.
SETTINGS = settings(
    max_examples=int(os.environ.get("MODWRITE_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    derandomize=False,
)

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s)
)

#: Sources of a chosen value and padding: same-size rewrites are frequent.
sources = st.builds(
    lambda value, pad: f"VALUE = {value}\n" + "#" * pad + "\n",
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=3),
)
