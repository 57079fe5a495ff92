"""The running bot (``polyflup run``): wiring per mode, the worker threads, the live view
and the run summary. Decisions live in ``src.trading``; this package only runs them."""
