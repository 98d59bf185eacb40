"""Administrators change what the bot says and asks: `stegvis flows check | publish | history | diff |
rollback | diagram | preview`, and every running bot takes a new version within seconds.

A flow file is checked (``flows/check.py``) before it is published; a published version is stored
in the database (``storage/flow_versions.py``) with who, when and a note, and the live-content
counter for ``flows`` is raised in the same transaction (``storage/live_content.py``). Each
``stegvis run`` polls that counter (``bot/live_reload.py``) and loads the new version: new
conversations get it, a conversation in progress finishes on the version it started on.
"""
