"""The protocol between the harness (inside the sandbox) and the trusted side (outside).

``autograder/harness.py`` runs in the sandbox and ``autograder/trusted.py`` judges what it
sends; both import these names, so neither spells a record kind, a status or a file name
by hand. Inside the sandbox this file is mounted beside the harness (``GRADER_DIR``, on
``PYTHONPATH``) and imported as ``harness_protocol``: it must stay plain constants, with
no import of ``autograder`` and nothing secret (student code can read it).

The harness sends one JSON record per line on its results channel (its original standard
output); each record has an ``"event"``:

- ``start`` (``started``: epoch seconds, ``protected``: the channel is out of reach);
- ``kernel_ready`` (``at``);
- ``cell`` (``index``, ``id``, ``status``: a ``CellStatus``, ``seconds``, ``outputs``);
- ``probe`` (``grade_id``, ``status``: a ``ProbeStatus``, ``seconds``; when it ran,
  ``meta``: the results JSON and ``arrays``: the results npz in base64);
- ``finished`` (``at``).
"""

GRADER_DIR = "/grader"                                  # inside the sandbox: the harness, this file, probes
HARNESS_MODULE = "segcourse_harness"                    # the harness's name there (the kernel imports it)
HARNESS_TARGET = f"{GRADER_DIR}/{HARNESS_MODULE}.py"
PROTOCOL_TARGET = f"{GRADER_DIR}/harness_protocol.py"
PROBES_TARGET = f"{GRADER_DIR}/probes"                  # read-only: one folder per probe

# One probe folder: written by the trusted side; its results are written by the kernel.
PROBE_SPEC = "spec.json"                                # {"grade_id", "calls": [...]}
PROBE_INPUTS = "inputs.npz"                             # the drawn inputs, no pickles
RESULTS_JSON = "results.json"                           # what each call returned, described
RESULTS_ARRAYS = "results.npz"                          # the arrays it returned
FORKED_KERNEL_ENV = "SEGCOURSE_FORKED_KERNEL"          # "<fd>:<pid>" of a kernel the warm sandbox forked
STATE_DIR = ".segcourse"                                # in the work folder: results/ of each probe

MAX_RESULT_BYTES = 50 * 1024 * 1024                     # one probe's results, each file
MAX_CELL_OUTPUT_BYTES = 100_000                         # a cell's outputs as sent (then truncated)
TIME_LIMIT_ERROR = "TimeLimit"                          # ename of the error added to a stuck cell


class Event:
    """The ``"event"`` of a record."""

    START = "start"
    KERNEL_READY = "kernel_ready"
    CELL = "cell"
    PROBE = "probe"
    FINISHED = "finished"


class CellStatus:
    """How a cell ended. DEAD and STUCK end the notebook."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"                                 # interrupted at the time limit; the kernel goes on
    DEAD = "dead"                                       # the kernel died
    STUCK = "stuck"                                     # ignored the interrupt: the kernel was killed
    ENDS_NOTEBOOK = (DEAD, STUCK)


class ProbeStatus:
    """How a probe ended (DEAD, STUCK and TIMEOUT as for a cell); any other status starts
    with FAILED and says why."""

    RAN = "ran"                                         # its results are in the record
    TIMEOUT = CellStatus.TIMEOUT
    TIMEOUT_EARLIER = "timeout_earlier"                 # a function it needs timed out before: not called
    DEAD = CellStatus.DEAD
    STUCK = CellStatus.STUCK
    FAILED = "failed"
