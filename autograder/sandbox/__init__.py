"""Running untrusted code: the grader's side and the worker's side (stdlib and numpy only); see docs/sandbox.md."""
