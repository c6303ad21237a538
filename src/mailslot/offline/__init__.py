"""Offline recipients: export bundles (``bundle``), writing them from the server (``export``)
and decrypting them on an air-gapped machine (``decrypt``).

``bundle`` and ``decrypt`` import neither the database nor the web layer, so that
``mailslot decrypt`` runs with nothing but the package and a key file.
"""
