"""Rate limits and login throttles, kept in the database so every app process shares them."""
