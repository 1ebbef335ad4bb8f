"""Your own training code as the way a variant trains: a trial kind beside lrsweep's own loop (``engine``).

- ``command``: your script, one process per trial in a process group of its own (:mod:`.command`), reporting one
  JSON object per epoch on stdout or through ``$LRSWEEP_METRICS_FILE``;
- ``function``: your Python function, called with a :class:`Trial` in a thread of its own (:mod:`.function`),
  reporting through ``trial.report(epoch, **metrics)``.

:mod:`.protocol` turns what a trial reports into rows and verdicts (diverged, failed). Like the engine, this room
never prints and never touches the run directory: the executors (``lrsweep.sweep.executors.trials``) give each
trial its folder and send its rows and results to the sink. It imports no torch.
"""

from lrsweep.sweep.trials.function import Trial, TrialStopped
from lrsweep.sweep.trials.protocol import PROTOCOL, Reports

__all__ = ["PROTOCOL", "Reports", "Trial", "TrialStopped"]
