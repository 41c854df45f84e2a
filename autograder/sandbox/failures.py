"""The phrases the sandbox's failure messages are built from.

The class report (autograder/grading/class_report.py) sorts failed tests by them (its
FAILURE_KINDS), so a message reworded here still lands in the right row of the report.
autograder/sandbox/grader.py exports them under the same names.
"""

CALL_TIMED_OUT = "did not return within"
IMPORT_TIMED_OUT = "did not finish within"
BUDGET_USED_UP = "the submission used up its time budget"
TIMED_OUT_EARLIER = "timed out, so its later calls fail at once"
UNREADABLE_REPLY = "the worker sent an unreadable reply"
PROTOCOL_BROKEN = "broke the worker's protocol"
WORKER_FAILED = "the sandbox worker failed"
