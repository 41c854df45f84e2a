"""The sandbox's conversation: the name of every message and key the grader and the worker exchange.

Both ends use this file: the grader side imports it as `autograder.sandbox.protocol`, the
worker loads it by path, like wire.py (the worker cannot import the kit's packages). It
holds names only, no code: wire.py says how a message travels, this file what it says.
The values are the bytes on the wire, short because they are sent with every call.

The conversation, each message one wire frame (see worker.py for who does what):

    grader -> worker   {OP: START, PLAN, FILES, KIT_MODULES, FUNCTIONS, ...}
    worker -> grader   {OP: IMPORTING, FILE}   before importing each student file
    worker -> grader   {OP: READY, FAILURES, NOTES, REDUCED}   or {OP: FAILED, MESSAGE}
    grader -> worker   {OP: CALL, SEQ, FUNCTION, ARGS, KWARGS, RELEASE[, PERTURB]}
    worker -> grader   {SEQ, RETURNED or ERROR, MODIFIED, MODIFIED_THROUGH_CACHE, CHANGED[, COVERED]}

The zygote's requests on its control socket are plain JSON (no frames), named here too.
"""

# --- every message ----------------------------------------------------------------------------
OP = "op"  # what a message is: one of the ops below (replies to calls carry SEQ instead)

# --- the worker's start: grader -> worker ---------------------------------------------------------
START = "start"  # the op of the first message a forked worker gets: its submission and its plan
PLAN = "plan"  # how the worker confines itself: the argument of jail.confine (its keys are jail's)
FILES = "files"  # file name -> base64 of the submitted file, written into the work folder
KIT_MODULES = "kit_modules"  # path -> base64 of the kit's modules a submission may import (gradcheck)
FILES_IN_ORDER = "files_in_order"  # the files to import, in this order (graded files, then the kit's support)
ARTIFACTS = "artifacts"  # {ARTIFACT_FOLDER, ARTIFACT_NAMES, ARTIFACT_LIMIT}: files the worker reads itself
ARTIFACT_FOLDER = "directory"  # the submission's folder on the host
ARTIFACT_NAMES = "names"  # the artifacts' file names in that folder
ARTIFACT_LIMIT = "limit"  # the most bytes one artifact may have
SKIP = "skip"  # file name -> why it is not imported (unsafe, or its import hung or ended an earlier worker)
FUNCTIONS = "functions"  # function name -> [file, [return kinds]]: what may be called, and what it returns
CACHE_LIMIT = "cache_limit"  # how many forward-pass caches the worker keeps

# --- the worker's start: worker -> grader ---------------------------------------------------------
IMPORTING = "importing"  # the op sent before each student file's import (a hang names the file)
FILE = "file"  # the file being imported
READY = "ready"  # the op sent once every file is imported: calls may come
FAILURES = "failures"  # file name -> why it could not be imported
NOTES = "notes"  # what the confinement could not do on this machine (jail.confine's notes)
REDUCED = "reduced"  # '' or why the isolation is reduced (jail.confine's verdict)
FAILED = "failed"  # the op sent when the sandbox could not be built; the worker then exits
MESSAGE = "message"  # the text of a failure (in FAILED, and in an ERROR report)

# --- a call: grader -> worker ---------------------------------------------------------------------
CALL = "call"  # the op of a call
SEQ = "seq"  # the call's number; the reply carries it back
FUNCTION = "fn"  # the name of the function to call
ARGS = "args"  # the positional arguments: one wire node (a tuple)
KWARGS = "kwargs"  # the keyword arguments: [[name, node]]
RELEASE = "release"  # handles of caches nobody can pass any more: the worker drops them first
PERTURB = "perturb"  # only for numeric gradients: {WRT, TAKE, STEP[, ENTRIES, SETTLE]}
WRT = "wrt"  # the position of the argument to perturb
TAKE = "take"  # which return value to stack
STEP = "step"  # how far each entry moves, + and -
ENTRIES = "entries"  # [first, stop]: the flat indices this worker evaluates (absent: all)
SETTLE = "settle"  # true: where an evaluation changes the other arguments, go on through every entry

# --- a call's reply: worker -> grader -------------------------------------------------------------
RETURNED = "ok"  # one wire node per declared return value (perturbed: one node, the stacked outputs)
ERROR = "error"  # {ERROR_KIND, MESSAGE, ...}: why the call failed
MODIFIED = "m"  # [[argument index, array]]: arrays of the call's arguments it changed in place
MODIFIED_THROUGH_CACHE = "mh"  # [[handle, argument index, array]]: arguments of the call that made a used cache
CHANGED = "c"  # [[argument index, dict or list node]]: dicts and lists of the arguments the call changed
COVERED = "covered"  # perturbed: how many entries the outputs cover (SETTLE may have made it go on)

# --- an error report: the value of ERROR ----------------------------------------------------------
ERROR_KIND = "kind"  # one of the kinds below
RAISED = "exception"  # the student's code raised: with EXCEPTION_TYPE, BASES, EXCEPTION_ARGS, TRACEBACK
INTERNAL = "internal"  # the worker itself failed (a fault of the kit, or student code that broke it)
NOT_LOADED = "load"  # the function's file did not load, or it does not define the function
CACHE_GONE = "cache"  # a cache handle the worker no longer holds
BAD_RETURNS = "returns"  # the function returned the wrong number or shape of values
EXCEPTION_TYPE = "type"  # the exception's class name
BASES = "bases"  # the names of the builtin classes of its hierarchy, most derived first
EXCEPTION_ARGS = "args"  # its args as one wire node, or None where they could not be sent
TRACEBACK = "traceback"  # the student's frames, as text

# --- the zygote's control socket: grader <-> zygote, plain JSON -----------------------------------
FORK = "fork"  # fork a bare worker; the request carries its pipes and capture file as fds
MARKER = "marker"  # the forked worker's marker value (how a grader without root finds its daemons)
WAIT = "wait"  # reap a forked worker
PID = "pid"  # the forked worker (the fork's answer, and WAIT's request)
WAIT_TIMEOUT = "timeout"  # how long WAIT waits for the worker to end
STATUS = "status"  # WAIT's answer: the exit status as subprocess gives it, or None
REFUSED = "error"  # the answer to a request the zygote could not carry out: why

# --- the zygote's bootstrap: its command line, one JSON object ------------------------------------
SYS_PATH = "sys_path"  # the worker's exact sys.path: the standard library and site-packages
WIRE_PATH = "wire"  # where wire.py is, loaded by path
JAIL_PATH = "jail"  # where jail.py is, loaded by path
PROTOCOL_PATH = "protocol"  # where this file is, loaded by path (worker.py spells this key out once)
CONTROL_FD = "control_fd"  # the zygote's end of its control socket
MARKER_VARIABLE = "marker_variable"  # the environment variable that holds a worker's marker
PARENT_PID = "parent_pid"  # the grader: the zygote dies with it
