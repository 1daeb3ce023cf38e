"""The scheduled build: config files, the build of one edition, its history, one commit.

- ``config``: ``BuildConfig`` from a TOML file, its paths taken from the file's folder;
- ``build``: ``run_build``, sources to history to files, and the build lock;
- ``history``: past editions in SQLite (numbers, what was featured, quotes);
- ``commit``: files across folders and the history record, all of them or none.
"""
