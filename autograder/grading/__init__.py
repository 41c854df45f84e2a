"""Grading submissions: intake, a sandboxed run of the public and hidden tests, results, batches, class reports."""
