"""The ``mailslot`` command line."""
