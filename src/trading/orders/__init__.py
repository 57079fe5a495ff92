"""Orders: shaping them to the venue's rules before they leave (limit, market, batch)."""
