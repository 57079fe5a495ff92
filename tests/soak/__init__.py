"""The memory soak: a long sim run with its RSS sampled (``make soak``)."""
