"""Server-side sessions: the cookie holds a random secret, the server its hash and sealed data."""
