"""One module per document format, each turning a file into :class:`~..document.Block` objects.

Each third-party parser lives in exactly one of these modules; ``readers.open_document``
chooses the module and none of them knows about the others (except EPUB and Markdown, which
reuse the HTML module for their XHTML and raw HTML). ``archive.py`` says what a damaged ZIP
fails with, for the two formats that are ZIP archives (EPUB, Word).
"""
