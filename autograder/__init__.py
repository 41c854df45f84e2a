"""The kit's engine, grouped by what each part does; `python -m autograder` is its command line.

- core/: the assignment table, the results model, the gradient checker, the implementation
  fixture's backend, the pytest plugin, the test runner and the terminal/JSON reports.
  Exactly what a student release ships, so it imports nothing else of the engine.
- sandbox/: running code the grader does not trust: the grader's side (grader.py,
  process.py) and the worker's side (worker.py, wire.py, jail.py: stdlib and numpy only).
- grading/: one path of a grade: intake -> sandboxed run (grade.py) -> results.json;
  batch grades a folder of submissions and class_report sums a batch up.
- quality/: checks of the kit itself: validate, the known-bug variants, the degenerate
  submissions and the leak check of a release.
- builders/: what the staff hand out: the student release, the Gradescope bundle and the
  notebook exports.

pyproject.toml ([tool.importlinter]) writes these rules down and `make test` checks them.
"""
