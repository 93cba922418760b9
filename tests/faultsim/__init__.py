"""The long fault campaign ("faults, at length"): writers killed (SIGKILL)
and signalled (SIGINT, SIGTERM) at random moments of their writes, ENOSPC at
every free-space level of a tiny ext4, ``modwrite clean`` in a loop beside
live writers; every trial checked against the commit-point rule
(:mod:`tests.faults`).

* :mod:`.progress`: where a forked writer is (marks around the commit
  points, in shared memory) and the kernel timer that kills it;
* :mod:`.scenarios`: the writes, their allowed states, the import check;
* :mod:`.engine`: the fork server, the kill and signal campaigns;
* :mod:`.enospc`, :mod:`.cleanloop`: the other two kinds of fault;
* :mod:`.campaign`, :mod:`.tally`: all of it, and the table of counts.

Run it with ``python -m tests.faultsim`` (see :mod:`.__main__`); the fast
part is ``tests/test_faultsim.py``.
"""
