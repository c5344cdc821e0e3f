"""The WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""

import gc
import os

# Arrow's C++ code (the Parquet reader's decompression buffers among it) allocates from the
# process-wide default pool, chosen from this variable on first use. pyarrow's own default,
# jemalloc or mimalloc, keeps a few MB resident per process; the system allocator returns it,
# which keeps a bias check's peak memory near the data's size (benchmarks/bias_check.py).
# An operator's own setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from registry import create_app  # noqa: E402

app = create_app()


def _serving() -> bool:
    """Whether a server loads this module: a WSGI server, or `flask run`; not other commands."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return True
    import click

    context = click.get_current_context(silent=True)
    return context is not None and context.info_name == "run"


if _serving() and not app.testing:
    # Start-up recovery of bias-check jobs, then the sweep on a timer (assessments.job_recovery).
    from assessments import job_recovery

    job_recovery.start_sweeper(app)

# Everything imported and built so far lives as long as the process: move it out of the cyclic
# collector's sight, so that a full collection no longer walks it. In process, that took the
# longest pause of a run of list requests from ~70 ms to ~6 ms (a full collection), which
# otherwise lands on whichever request is running.
gc.freeze()
