"""The phrases the sandbox's failure messages are built from.

The class report (autograder/grading/class_report.py) sorts failed tests by them (its
FAILURE_KINDS), so a message reworded here still lands in the right row of the report.
"""

CALL_TIMED_OUT = "did not return within"
IMPORT_TIMED_OUT = "did not finish within"
BUDGET_USED_UP = "the submission used up its time budget"
TIMED_OUT_EARLIER = "timed out, so its later calls fail at once"
UNREADABLE_REPLY = "the worker sent an unreadable reply"
PROTOCOL_BROKEN = "broke the worker's protocol"
WORKER_FAILED = "the sandbox worker failed"
# How process.describe_exit's sentences start.
WORKER_SILENT = "the worker stopped answering"
WORKER_DIED = "the worker died with signal"
WORKER_EXITED = "the worker exited with status"
