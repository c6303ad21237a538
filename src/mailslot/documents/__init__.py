"""Documents: what a file says about who made it, and copies that say nothing.

- ``detect.py``: the type of a file from its content.
- ``inspect.py``: ``inspect_bytes`` → a ``FileReport`` of ``Finding``s (``findings.py``).
- ``sanitize.py``: ``sanitize_bytes`` → a ``SanitizedCopy``, same format or flattened.
- one module per family of formats: ``images.py`` (with ``exif.py``, ``dots.py``),
  ``pdf.py``, ``flatten.py``, ``ooxml.py`` and ``ooxml_clean.py``, ``odf.py``, ``ole.py``,
  ``archive.py`` (with ``zipparts.py``), ``audio.py``, ``video.py``; ``xmp.py`` for the XMP
  they share; ``parsing.py`` for the boundary with the third-party parsers.

Everything works on bytes in memory and writes nothing to disk (but ``office.py``, which
hands an office file to LibreOffice in bubblewrap's tmpfs, in memory too, for a flattened
copy). Nothing here is safe to run on untrusted input inside the server process: the server
runs it in a sandboxed child process (``sandbox.py``, ``bwrap.py`` and ``worker.py``). The
formats and their limits are described in ``docs/documents.md``; the report's JSON in
``docs/spec/inspect-report.md``.
"""
