"""Application jobs, just under the command line: a run's typed specification and its execution
(``run``), re-running a recorded run (``rerun``), the plan ``track`` follows (``tracking``), fitting
and writing models (``fitting``), and the demo (``demo``). This layer may import every layer
above it (workflow and render included); nothing but the CLI imports it."""
