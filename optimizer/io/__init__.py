"""File contracts: one module per file format, each reading with located errors (file, field,
row, value) and writing atomically. The bottom of the house: these modules import only the
vocabulary layer (``errors``, ``vocabulary``, ``formatting``) and each other.

- ``files``: atomic writes; YAML and CSV read with located errors.
- ``journey``: contract 1, ``journey.yaml`` → ``Journey``.
- ``history``: contract 2, ``history.csv`` (wide or long, one market or several) → ``History``.
- ``calibration``: lift tests (CSV) → ``LiftTest``.
- ``spend_tables``: the one reader of ``id,spend`` totals (``previous:``, ``--last-cycle``) and
  ``date,touchpoint,spend`` rows (actuals, a history's long layout).

Two contracts are read and written next to the types they carry, one layer up, so that this
package imports nothing above it: the model file (contract 3) in ``optimizer.response.model``
(``read_model``/``write_model``) and plan JSON (contract 6) both ways in
``optimizer.allocate.plan_json``.
"""
