"""``harness view``: the stored runs as a live local web page, served on 127.0.0.1.

A stdlib `ThreadingHTTPServer` answers the page (`harness.view._page`, styled like the
report) and a small JSON API read straight from the run folders, so runs written while the
page is open appear on reload:

* ``GET /api/runs``: every run (id, task, model, adapter, n, status, metrics, age)
* ``GET /api/run/<id>``: one run's record and samples (prompt, outputs, extraction, scores,
  judge explanations, errors)
* ``GET /api/diff?a=<id>&b=<id>[&metric=m]``: the paired item-level diff of two runs

Nothing leaves the machine: the server binds 127.0.0.1 and the page loads nothing from
elsewhere (a Content-Security-Policy forbids it). Ctrl-C stops it.
"""

from __future__ import annotations

from harness.view._server import make_server

__all__ = ["make_server"]
